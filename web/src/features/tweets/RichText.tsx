import type { ReactNode } from 'react';
import { Link } from 'react-router';
import twitterText from 'twitter-text';

/** A post's text with its mentions, hashtags and links as links: built as elements from
 * twitter-text's entities (the same rules as the server's), never as HTML. */
export function RichText({ text }: { text: string }) {
  const parts: ReactNode[] = [];
  let at = 0;
  for (const entity of twitterText.extractEntitiesWithIndices(text)) {
    const [start, end] = entity.indices;
    if (start > at) parts.push(text.slice(at, start));
    const shown = text.slice(start, end);
    if ('screenName' in entity) {
      parts.push(
        <Link key={start} to={`/u/${entity.screenName}`}>
          {shown}
        </Link>,
      );
    } else if ('hashtag' in entity) {
      parts.push(
        <Link key={start} to={`/hashtag/${encodeURIComponent(entity.hashtag)}`}>
          {shown}
        </Link>,
      );
    } else if ('url' in entity) {
      const href = /^https?:\/\//i.test(entity.url) ? entity.url : `https://${entity.url}`;
      parts.push(
        <a key={start} href={href} rel="noopener noreferrer nofollow" target="_blank">
          {shown}
        </a>,
      );
    } else {
      parts.push(shown);
    }
    at = end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <p className="text">{parts}</p>;
}
