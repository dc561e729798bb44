import { useEffect, useRef } from 'react';

/** Any address the SPA does not know (the server answers such a path with status 404 and this page). */
export function NotFound() {
  const heading = useRef<HTMLHeadingElement>(null);
  // a screen reader announces where the user landed
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="card narrow">
      <h1 ref={heading} tabIndex={-1}>
        Page not found
      </h1>
      <p>There is no page at this address. The link may be mistyped or out of date.</p>
      <p>
        <a href="/#/records">Go to the start page</a>
      </p>
    </section>
  );
}
