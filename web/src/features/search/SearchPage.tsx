import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useLocation, useSearchParams } from 'react-router';
import { useSearchUsersQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { Page } from '../../Page';
import { PeopleList } from '../profile/PeopleList';

/** People by username or display name; the query is in the address, so a search can be shared. */
export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const query = params.get('q') ?? '';
  const [text, setText] = useState(query);
  const inputId = useId();
  const input = useRef<HTMLInputElement>(null);
  const location = useLocation();
  const { data: people, error, isFetching, refetch } = useSearchUsersQuery(query, { skip: query.trim() === '' });

  // `/` lands here with the focus in the field.
  useEffect(() => {
    if ((location.state as { focus?: boolean } | null)?.focus) input.current?.focus();
  }, [location.state]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const wanted = text.trim();
    // Searching again for the same words asks again: someone may have just signed up.
    if (wanted !== '' && wanted === query) void refetch();
    else setParams(wanted === '' ? {} : { q: wanted });
  };

  return (
    <Page title="Search people">
      <form role="search" className="search" onSubmit={submit}>
        <label htmlFor={inputId}>Name or username</label>
        <div className="row">
          <input id={inputId} ref={input} type="search" value={text} onChange={(event) => setText(event.target.value)} />
          <button type="submit" className="primary">
            Search
          </button>
        </div>
      </form>
      {error ? (
        <p className="error" role="alert">
          {(error as ApiError).message}
        </p>
      ) : null}
      {query !== '' && people ? (
        <>
          <p role="status">{people.length === 0 ? `Nobody matches “${query}”.` : `${people.length} found for “${query}”.`}</p>
          <PeopleList people={people} label="People found" />
        </>
      ) : null}
      {isFetching ? <p>Searching…</p> : null}
    </Page>
  );
}
