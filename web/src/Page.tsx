import { useEffect, useRef, type ReactNode } from 'react';

/** A page: the main landmark with its one h1, which takes the focus when the page opens so a
 * screen reader announces where the navigation went. */
export function Page({ title, children }: { title: string; children: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · X-in-Rust`;
    heading.current?.focus();
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
