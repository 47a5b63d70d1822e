import { useLocation, useParams } from 'react-router';
import { useThreadQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { useAppSelector } from '../../app/hooks';
import { Feed, FeedArticle } from '../../components/Feed';
import { Page } from '../../Page';
import { Compose } from '../compose/Compose';
import { TweetCard } from '../tweets/TweetCard';

export function ThreadPage() {
  const { tweetId = '' } = useParams();
  const location = useLocation();
  const { data: thread, error, isLoading } = useThreadQuery(tweetId);
  const signedIn = useAppSelector((state) => state.session.signedIn);
  const deleted = useAppSelector((state) => state.entities.deleted);
  if (error || deleted[tweetId]) {
    const apiError = error as ApiError | undefined;
    return (
      <Page title="Not found">
        <p>{!apiError || apiError.status === 404 ? 'This post does not exist or was deleted.' : apiError.message}</p>
      </Page>
    );
  }
  // `r` on a post lands here with the focus in the reply box.
  const replying = (location.state as { reply?: boolean } | null)?.reply === true;
  const replies = thread?.replies.filter((reply) => !deleted[reply.tweetId]) ?? [];
  return (
    <Page title="Post">
      {isLoading || !thread?.tweet ? null : (
        <>
          <Feed label="Conversation" busy={false}>
            {thread.ancestors.map((tweet, index) => (
              <FeedArticle key={tweet.tweetId} index={index} tweetId={tweet.tweetId}>
                <TweetCard id={tweet.tweetId} />
              </FeedArticle>
            ))}
            <FeedArticle index={thread.ancestors.length} tweetId={thread.tweet.tweetId} className="focal" current>
              <TweetCard id={thread.tweet.tweetId} large />
            </FeedArticle>
          </Feed>
          {signedIn ? <Compose key={thread.tweet.tweetId} replyTo={thread.tweet.tweetId} autoFocus={replying} /> : null}
          <h2 className="section-title">Replies</h2>
          <Feed label="Replies" busy={false}>
            {replies.map((tweet, index) => (
              <FeedArticle key={tweet.tweetId} index={index} tweetId={tweet.tweetId}>
                <TweetCard id={tweet.tweetId} />
              </FeedArticle>
            ))}
          </Feed>
          {replies.length === 0 ? <p>No replies yet.</p> : null}
        </>
      )}
    </Page>
  );
}
