import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { useModalDialog } from '../../components/useModalDialog';
import { TweetCard } from '../tweets/TweetCard';
import { Compose } from './Compose';
import { closed } from './dialog';

/** The dialog's text box takes the focus once it is shown. */
function focusText(dialog: HTMLDialogElement) {
  dialog.querySelector('textarea')?.focus();
}

/** Compose as a native modal `<dialog>` (`n`, or Quote): Escape closes it, and the focus goes
 * back to whatever opened it. */
export function ComposeDialog() {
  const { open, quoteOf } = useAppSelector((state) => state.composer);
  const dispatch = useAppDispatch();
  // showModal focuses the first button (Close); the reader came to write.
  const { dialog, onClose } = useModalDialog(open, () => dispatch(closed()), focusText);
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
