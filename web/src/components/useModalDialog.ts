import { useEffect, useRef } from 'react';

/** A native `<dialog>` shown as a modal while `open`, giving the focus back to whatever had
 * it when the dialog opened. Returns the dialog's ref and its `onClose` handler (which calls
 * `closed`: Escape and `close()` both end there). */
export function useModalDialog(open: boolean, closed: () => void, onShown?: (dialog: HTMLDialogElement) => void) {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) {
      opener.current = document.activeElement;
      element.showModal();
      onShown?.(element);
    } else if (!open && element.open) {
      element.close();
    }
  }, [open, onShown]);
  const onClose = () => {
    closed();
    if (opener.current instanceof HTMLElement) opener.current.focus();
    opener.current = null;
  };
  return { dialog, onClose };
}
