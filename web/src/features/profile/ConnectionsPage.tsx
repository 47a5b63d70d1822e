import { NavLink, useParams } from 'react-router';
import { useConnectionsInfiniteQuery, useProfileByUsernameQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import type { Profile } from '../../api/types';
import { LoadMore } from '../../components/LoadMore';
import { Page } from '../../Page';
import { PeopleList } from './PeopleList';

type Which = 'followers' | 'following';

function Connections({ user, which }: { user: Profile; which: Which }) {
  const { data, isLoading, hasNextPage, fetchNextPage, isFetchingNextPage } = useConnectionsInfiniteQuery({
    userId: user.userId,
    which,
  });
  const people = data?.pages.flatMap((page) => page.profiles) ?? [];
  return (
    <>
      <PeopleList people={people} label={which === 'followers' ? 'Followers' : 'Following'} />
      {!isLoading && people.length === 0 ? <p>{which === 'followers' ? 'No followers yet.' : 'Follows nobody yet.'}</p> : null}
      <LoadMore hasMore={hasNextPage} loading={isFetchingNextPage} onLoad={() => void fetchNextPage()} what="people" />
    </>
  );
}

/** Who follows someone, or whom they follow. */
export function ConnectionsPage({ which }: { which: Which }) {
  const { username = '' } = useParams();
  const { data: user, error } = useProfileByUsernameQuery(username);
  if (error) {
    return (
      <Page title="Not found">
        <p>{(error as ApiError).status === 404 ? `Nobody is called @${username}.` : (error as ApiError).message}</p>
      </Page>
    );
  }
  const title = user ? `${which === 'followers' ? 'Followers of' : 'Followed by'} ${user.displayName}` : `@${username}`;
  return (
    <Page title={title}>
      <div className="tabs" role="group" aria-label="Which people">
        <NavLink to={`/u/${username}/followers`}>Followers</NavLink>
        <NavLink to={`/u/${username}/following`}>Following</NavLink>
      </div>
      {user ? <Connections user={user} which={which} /> : null}
    </Page>
  );
}
