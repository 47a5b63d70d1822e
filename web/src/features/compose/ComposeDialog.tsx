import { useEffect, useRef } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { TweetCard } from '../tweets/TweetCard';
import { Compose } from './Compose';
import { closed } from './dialog';

/** Compose as a native modal `<dialog>` (`n`, or Quote): Escape closes it, and the focus goes
 * back to whatever opened it. */
export function ComposeDialog() {
  const { open, quoteOf } = useAppSelector((state) => state.composer);
  const dispatch = useAppDispatch();
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) {
      opener.current = document.activeElement;
      element.showModal();
      // showModal focuses the first button (Close); the reader came to write.
      element.querySelector('textarea')?.focus();
    } else if (!open && element.open) {
      element.close();
    }
  }, [open]);

  const onClose = () => {
    dispatch(closed());
    if (opener.current instanceof HTMLElement) opener.current.focus();
    opener.current = null;
  };

  return (
    <dialog ref={dialog} aria-labelledby="compose-dialog-title" onClose={onClose}>
      {open ? (
        <>
          <div className="dialog-head">
            <h2 id="compose-dialog-title">{quoteOf ? 'Quote a post' : 'New post'}</h2>
            <button type="button" onClick={() => dialog.current?.close()}>
              Close
            </button>
          </div>
          {quoteOf ? (
            <div className="quoted">
              <TweetCard id={quoteOf} actions={false} />
            </div>
          ) : null}
          <Compose {...(quoteOf ? { quoteOf } : {})} onPosted={() => dialog.current?.close()} />
        </>
      ) : null}
    </dialog>
  );
}
