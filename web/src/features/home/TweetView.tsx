import type { Profile, Tweet } from '../../api/types';

function Byline({ author }: { author: Profile | undefined }) {
  if (!author) return <span className="who">Someone</span>;
  return (
    <span>
      <span className="who">{author.displayName}</span> <span>@{author.username}</span>
    </span>
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
      <Byline author={author} />
      {/* Text is rendered as text: never as HTML. */}
      <p className="text">{tweet.text}</p>
      {quoted?.tweet ? (
        <div className="quoted">
          <Byline author={quoted.author} />
          <p className="text">{quoted.tweet.text}</p>
        </div>
      ) : null}
      <p>
        {tweet.replyCount} replies · {tweet.repostCount} reposts · {tweet.likeCount} likes
      </p>
    </>
  );
}
