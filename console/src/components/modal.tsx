/**
 * A modal on the native <dialog>: showModal() gives the focus trap, Escape,
 * the inert page behind and the backdrop. Focus goes back to whatever opened
 * it when it closes.
 */
import { useEffect, useId, useRef, type ReactNode } from 'react';

export interface ModalProps {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
  /** Extra class for the panel (e.g. "wide"). */
  className?: string;
  /** Short text under the title, read out with it. */
  description?: ReactNode;
}

export function Modal({ open, title, onClose, children, className, description }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  const titleId = useId();
  const descId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement;
      d.showModal();
      // showModal() focuses the first focusable element, the Close button; a form's first field (or a marked button) is more useful.
      const first =
        d.querySelector<HTMLElement>('[data-autofocus]') ??
        d.querySelector<HTMLElement>('.modal-body input:not([type=hidden]), .modal-body select, .modal-body textarea');
      first?.focus();
    } else if (!open && d.open) {
      d.close();
    }
  }, [open]);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const onCancel = (e: Event) => {
      e.preventDefault(); // Escape: let React state close it
      onCloseRef.current();
    };
    const onClosed = () => {
      const el = opener.current;
      opener.current = null;
      if (el instanceof HTMLElement && el.isConnected) el.focus();
    };
    d.addEventListener('cancel', onCancel);
    d.addEventListener('close', onClosed);
    return () => {
      d.removeEventListener('cancel', onCancel);
      d.removeEventListener('close', onClosed);
    };
  }, []);

  return (
    <dialog ref={ref} className={['modal', className].filter(Boolean).join(' ')} aria-labelledby={titleId} aria-describedby={description ? descId : undefined}>
      {open && (
        <div className="modal-body">
          <header className="modal-header">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
              <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
                <path d="M5 5l10 10M15 5L5 15" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
              </svg>
            </button>
          </header>
          {description && (
            <p id={descId} className="modal-description">
              {description}
            </p>
          )}
          {children}
        </div>
      )}
    </dialog>
  );
}
