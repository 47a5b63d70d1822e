import { useState } from 'react';
import { Link } from 'react-router';
import { useDeleteTweetMutation, useOwnProfileQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { useAppDispatch } from '../../app/hooks';
import { opened } from '../compose/dialog';
import { tweetDeleted } from '../entities/entities';
import { alerted, said } from '../live/live';
import { toggle } from '../toggles/toggles';
import type { TweetOnScreen } from './select';

/** Reply, repost, quote, like and, on one's own post, delete. The toggles say their state
 * with `aria-pressed`, so a screen reader hears "Like, toggle button, pressed". */
export function TweetActions({ shown }: { shown: TweetOnScreen }) {
  const { tweet, counts } = shown;
  const id = tweet.tweetId;
  const dispatch = useAppDispatch();
  const { data: me } = useOwnProfileQuery();
  const [remove, { isLoading: removing }] = useDeleteTweetMutation();
  const [confirming, setConfirming] = useState(false);

  const deleteNow = async () => {
    const result = await remove(id);
    if ('error' in result) {
      dispatch(alerted(`Could not delete the post: ${(result.error as ApiError).message}`));
      return;
    }
    dispatch(tweetDeleted(id));
    dispatch(said('Post deleted'));
  };

  return (
    <div className="actions" role="group" aria-label="Actions">
      <Link to={`/t/${id}`} data-action="reply">
        Reply <span>{tweet.replyCount}</span>
      </Link>
      {me ? (
        <>
          <button type="button" data-action="repost" aria-pressed={counts.reposted} onClick={() => void dispatch(toggle('repost', id))}>
            {counts.reposted ? 'Reposted' : 'Repost'} <span>{counts.repostCount}</span>
          </button>
          <button type="button" data-action="quote" onClick={() => dispatch(opened({ quoteOf: id }))}>
            Quote
          </button>
          <button type="button" data-action="like" aria-pressed={counts.liked} onClick={() => void dispatch(toggle('like', id))}>
            {counts.liked ? 'Liked' : 'Like'} <span>{counts.likeCount}</span>
          </button>
          {me.userId === tweet.authorId ? (
            confirming ? (
              <>
                <button type="button" className="danger" disabled={removing} onClick={() => void deleteNow()}>
                  Delete for good
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" onClick={() => setConfirming(true)}>
                Delete
              </button>
            )
          ) : null}
        </>
      ) : (
        <span>
          {counts.repostCount} reposts · {counts.likeCount} likes
        </span>
      )}
    </div>
  );
}
