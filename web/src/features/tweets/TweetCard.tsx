import { Link } from 'react-router';
import type { Id, Profile } from '../../api/types';
import { RichText } from './RichText';
import { useTweetOnScreen } from './select';
import { TweetActions } from './TweetActions';

function Byline({ author }: { author: Profile | undefined }) {
  if (!author) return <span className="who">Someone</span>;
  return (
    <Link to={`/u/${author.username}`}>
      <span className="who">{author.displayName}</span> <span>@{author.username}</span>
    </Link>
  );
}

function Quoted({ id }: { id: Id }) {
  const quoted = useTweetOnScreen(id);
  if (!quoted) return <div className="quoted">This post is unavailable.</div>;
  return (
    <div className="quoted">
      <Byline author={quoted.author} />
      <RichText text={quoted.tweet.text} />
      <Link to={`/t/${id}`}>Open the quoted post</Link>
    </div>
  );
}

/** One tweet as the entity store holds it now: author, text, one level of quote, actions. */
export function TweetCard({ id, large = false, actions = true }: { id: Id; large?: boolean; actions?: boolean }) {
  const shown = useTweetOnScreen(id);
  if (!shown) return <p>This post was deleted.</p>;
  const { tweet, author } = shown;
  return (
    <div className={large ? 'card large' : 'card'}>
      <Byline author={author} />
      {tweet.replyToTweetId !== '0' ? (
        <p className="context">
          <Link to={`/t/${tweet.replyToTweetId}`}>Replying to a post</Link>
        </p>
      ) : null}
      <RichText text={tweet.text} />
      {tweet.quoteOfTweetId !== '0' ? <Quoted id={tweet.quoteOfTweetId} /> : null}
      {actions ? <TweetActions shown={shown} /> : null}
    </div>
  );
}
