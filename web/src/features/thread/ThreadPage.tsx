import { useParams } from 'react-router';
import { useThreadQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { Page } from '../../Page';
import { Compose } from '../compose/Compose';
import { CardOf } from '../home/TweetView';

export function ThreadPage() {
  const { tweetId = '' } = useParams();
  const { data: thread, error, isLoading } = useThreadQuery(tweetId);
  if (error) {
    const apiError = error as ApiError;
    return (
      <Page title="Not found">
        <p>{apiError.status === 404 ? 'This post does not exist or was deleted.' : apiError.message}</p>
      </Page>
    );
  }
  return (
    <Page title="Post">
      {isLoading || !thread?.tweet ? null : (
        <>
          <div role="feed" className="feed" aria-label="Conversation">
            {thread.ancestors.map((tweet, index) => (
              <article key={tweet.tweetId} tabIndex={0} aria-posinset={index + 1} aria-setsize={-1}>
                <CardOf tweet={tweet} />
              </article>
            ))}
            <article className="focal" tabIndex={0} aria-posinset={thread.ancestors.length + 1} aria-setsize={-1} aria-current="true">
              <CardOf tweet={thread.tweet} />
            </article>
          </div>
          <Compose replyTo={thread.tweet.tweetId} />
          <h2 className="section-title">Replies</h2>
          <div role="feed" className="feed" aria-label="Replies">
            {thread.replies.map((tweet, index) => (
              <article key={tweet.tweetId} tabIndex={0} aria-posinset={index + 1} aria-setsize={-1}>
                <CardOf tweet={tweet} />
              </article>
            ))}
          </div>
          {thread.replies.length === 0 ? <p>No replies yet.</p> : null}
        </>
      )}
    </Page>
  );
}
