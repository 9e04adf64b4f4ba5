import { useEffect } from 'react';
import { Link } from '../router';

export function NotFoundPage() {
  useEffect(() => {
    document.title = 'Not found · dispymon';
  }, []);
  return (
    <>
      <h2>Page not found</h2>
      <p>
        There is no page at this address. Go to the <Link to="/">Monitor</Link>.
      </p>
    </>
  );
}
