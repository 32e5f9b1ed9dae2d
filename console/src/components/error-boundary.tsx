/** A bug in one page never blanks the console: it says so and offers a way out, no stack trace. */
import { Component, type ErrorInfo, type ReactNode } from 'react';

interface State {
  failed: boolean;
}

export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, State> {
  override state: State = { failed: false };

  static getDerivedStateFromError(): State {
    return { failed: true };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    // For whoever opens the developer tools; never on the page.
    console.error('Switchboard console error', error, info.componentStack);
  }

  override componentDidUpdate(prev: { resetKey?: string }): void {
    if (this.state.failed && prev.resetKey !== this.props.resetKey) this.setState({ failed: false });
  }

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    return (
      <div className="card crash" role="alert">
        <h2>This page ran into a problem</h2>
        <p>Something in the console went wrong while showing this page. Your data on the gateway is unaffected.</p>
        <div className="actions">
          <button type="button" className="button button-primary" onClick={() => this.setState({ failed: false })}>
            Try again
          </button>
          <button type="button" className="button button-secondary" onClick={() => location.reload()}>
            Reload the console
          </button>
        </div>
      </div>
    );
  }
}
