import { useEffect, useRef, type ReactNode } from 'react';

/** Whether the app has shown a page yet: the first page leaves the focus at the top of the
 * document, so that the first Tab reaches the skip link. */
let shownBefore = false;

/** A page: the main landmark with its one h1, which takes the focus when the reader navigates
 * to the page, so a screen reader announces where the navigation went. */
export function Page({ title, children }: { title: string; children: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · X-in-Rust`;
    if (shownBefore) heading.current?.focus();
    shownBefore = true;
  }, [title]);
  return (
    <main id="content">
      <h1 ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {children}
    </main>
  );
}
