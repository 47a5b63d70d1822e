import { useRelationshipQuery } from '../../api/api';
import type { Profile } from '../../api/types';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { shownValue, toggle } from '../toggles/toggles';

/** Follow or unfollow at once, through the toggle queue; "Follows you" when they do. */
export function FollowButton({ user, listed = false }: { user: Profile; listed?: boolean }) {
  // Loads the relationship into the entity store, where the button reads it; a list loads
  // all of its people's at once (`listed`).
  const { isLoading } = useRelationshipQuery(user.userId, { skip: listed });
  const dispatch = useAppDispatch();
  const following = useAppSelector((state) => shownValue(state, 'follow', user.userId));
  const followedBy = useAppSelector((state) => state.entities.relationships[user.userId]?.followedBy ?? false);
  return (
    <>
      <button
        type="button"
        className={following ? undefined : 'primary'}
        aria-pressed={following}
        aria-label={`Follow ${user.displayName}`}
        disabled={isLoading}
        onClick={() => void dispatch(toggle('follow', user.userId))}
      >
        {following ? 'Following' : 'Follow'}
      </button>
      {followedBy ? <span> Follows you</span> : null}
    </>
  );
}
