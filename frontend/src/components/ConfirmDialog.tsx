import { useEffect, useId, useRef } from 'react';
import type { ReactNode } from 'react';

interface ConfirmDialogProps {
  open: boolean;
  /** the heading, which also names the dialog */
  title: string;
  confirmLabel: string;
  /** disables the confirm button (e.g. while its command runs) */
  busy?: boolean;
  onConfirm(): void;
  /** Cancel, Escape, or the dialog closing any other way */
  onCancel(): void;
  children?: ReactNode;
}

/**
 * A native modal <dialog>: the browser traps focus, makes the page behind
 * inert and closes it on Escape, so there is no focus-trap code to get wrong.
 */
export function ConfirmDialog({ open, title, confirmLabel, busy = false, onConfirm, onCancel, children }: ConfirmDialogProps) {
  const headingId = useId();
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      dialog.showModal();
      // The safe choice has the focus: Enter or Space must not destroy anything.
      cancelRef.current?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  return (
    <dialog
      ref={ref}
      className="confirm-dialog"
      aria-labelledby={headingId}
      // Escape closes the dialog natively; keep the state in step.
      onClose={() => {
        if (open) onCancel();
      }}
    >
      {/* Content only while open: a closed dialog holds no stale text. */}
      {open && (
        <>
          <h3 id={headingId}>{title}</h3>
          {children}
          <div className="dialog-buttons">
            <button type="button" className="danger" disabled={busy} onClick={onConfirm}>
              {confirmLabel}
            </button>
            <button type="button" ref={cancelRef} onClick={onCancel}>
              Cancel
            </button>
          </div>
        </>
      )}
    </dialog>
  );
}
