import { useAppSelector } from '../../app/hooks';

/** The two live regions, always in the document (a region added with its text is not read). */
export function LiveRegions() {
  const { polite, assertive } = useAppSelector((state) => state.live);
  return (
    <>
      <div className="visually-hidden" role="status" aria-live="polite" data-testid="polite">
        <span key={polite.serial}>{polite.text}</span>
      </div>
      <div className="visually-hidden" role="alert" aria-live="assertive" data-testid="assertive">
        <span key={assertive.serial}>{assertive.text}</span>
      </div>
    </>
  );
}
