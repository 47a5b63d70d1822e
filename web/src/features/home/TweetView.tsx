import { Link } from 'react-router';
import type { Profile, Tweet } from '../../api/types';

function Byline({ author }: { author: Profile | undefined }) {
  if (!author) return <span className="who">Someone</span>;
  return (
    <Link to={`/u/${author.username}`}>
      <span className="who">{author.displayName}</span> <span>@{author.username}</span>
    </Link>
  );
}

/** One tweet with its author and, one level deep, the tweet it quotes. */
export function TweetView({
  tweet,
  author,
  quoted,
}: {
  tweet: Tweet;
  author: Profile | undefined;
  quoted: { tweet?: Tweet; author?: Profile } | undefined;
}) {
  return (
    <>
      <Byline author={author ?? tweet.author} />
      {/* Text is rendered as text: never as HTML. */}
      <p className="text">{tweet.text}</p>
      {quoted?.tweet ? (
        <div className="quoted">
          <Byline author={quoted.author ?? quoted.tweet.author} />
          <p className="text">{quoted.tweet.text}</p>
        </div>
      ) : null}
      <p>
        {tweet.replyCount} replies · {tweet.repostCount} reposts · {tweet.likeCount} likes ·{' '}
        <Link to={`/t/${tweet.tweetId}`}>Thread</Link>
      </p>
    </>
  );
}

/** A tweet as the API returns it on its own (author and quote inside the tweet). */
export function CardOf({ tweet }: { tweet: Tweet }) {
  const quoted = tweet.quoted ? { tweet: tweet.quoted, ...(tweet.quoted.author ? { author: tweet.quoted.author } : {}) } : undefined;
  return <TweetView tweet={tweet} author={tweet.author} quoted={quoted} />;
}
