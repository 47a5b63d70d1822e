import { useModalDialog } from '../../components/useModalDialog';
import { SHORTCUTS } from './hotkeys';

/** `?`: the list of shortcuts, in a native modal dialog that gives the focus back on close. */
export function ShortcutsHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { dialog, onClose: closeAndReturnFocus } = useModalDialog(open, onClose);
  return (
    <dialog
      ref={dialog}
      aria-labelledby="shortcuts-title"
      onClose={closeAndReturnFocus}
    >
      <div className="dialog-head">
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <button type="button" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </div>
      <dl className="shortcuts">
        {SHORTCUTS.map((shortcut) => (
          <div key={shortcut.keys}>
            <dt>
              {shortcut.keys.split(' ').map((key, index) => (
                <span key={key}>
                  {index > 0 ? ' then ' : null}
                  <kbd>{key}</kbd>
                </span>
              ))}
            </dt>
            <dd>{shortcut.does}</dd>
          </div>
        ))}
      </dl>
      <p>Shortcuts can be switched off in Settings.</p>
    </dialog>
  );
}
