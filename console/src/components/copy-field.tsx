/** A secret shown once: read-only, selectable, with a Copy button. */
import { useId, useRef, useState } from 'react';

export function CopyField({ label, value, note }: { label: string; value: string; note?: string }) {
  const id = useId();
  const noteId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'select' | null>(null);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      // No clipboard access (an insecure origin, say): select it for Ctrl+C.
      input.current?.select();
      setCopied('select');
    }
  };

  return (
    <div className="field copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input
          ref={input}
          id={id}
          className="input mono"
          readOnly
          value={value}
          onFocus={(e) => e.currentTarget.select()}
          aria-describedby={note ? noteId : undefined}
        />
        <button type="button" className="button button-secondary" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p className="field-help" id={noteId} aria-live="polite">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'select' ? 'Selected: press Ctrl+C (⌘C) to copy.' : note}
      </p>
    </div>
  );
}
