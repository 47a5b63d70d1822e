import { Link } from 'react-router';
import type { Profile } from '../../api/types';
import { useOwnProfileQuery, useRelationshipsQuery } from '../../api/api';
import { FollowButton } from './FollowButton';

/** The API's batch limit for relationships. */
const RELATIONSHIPS_PER_REQUEST = 100;

/** Loads the relationships of up to 100 people in one request, into the entity store. */
function RelationshipsOf({ ids }: { ids: string[] }) {
  useRelationshipsQuery(ids);
  return null;
}

/** People, each with a link to their profile and, for others than oneself, a follow button. */
export function PeopleList({ people, label }: { people: Profile[]; label: string }) {
  const { data: me } = useOwnProfileQuery();
  const chunks: string[][] = [];
  for (let at = 0; at < people.length; at += RELATIONSHIPS_PER_REQUEST) {
    chunks.push(people.slice(at, at + RELATIONSHIPS_PER_REQUEST).map((person) => person.userId));
  }
  return (
    <>
      {me ? chunks.map((ids) => <RelationshipsOf key={ids[0]} ids={ids} />) : null}
    <ul className="people" aria-label={label}>
      {people.map((person) => (
        <li key={person.userId}>
          <Link to={`/u/${person.username}`}>
            <span className="who">{person.displayName}</span> <span>@{person.username}</span>
          </Link>
          {person.bio ? <p>{person.bio}</p> : null}
          {me && me.userId !== person.userId ? <FollowButton user={person} listed /> : null}
        </li>
      ))}
    </ul>
    </>
  );
}
