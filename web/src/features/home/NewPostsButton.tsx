import { useEffect, useRef } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { said } from '../live/live';
import { showNewPosts } from './newPosts';

/** "Show N new posts": new posts wait behind this button, never pushed under the reader. */
export function NewPostsButton() {
  const { pending, overflowed } = useAppSelector((state) => state.newPosts);
  const dispatch = useAppDispatch();
  const count = pending.length;
  const announced = useRef(0);

  useEffect(() => {
    if (count > 0 && count !== announced.current) dispatch(said(`${count} new ${count === 1 ? 'post' : 'posts'}`));
    announced.current = count;
  }, [count, dispatch]);

  if (count === 0) return null;
  const firstNew = pending[0]?.itemId;
  const show = () => {
    dispatch(showNewPosts());
    // The focus goes to the newest post (the button is gone); the page does not jump, since
    // the posts go in above what the reader was looking at.
    requestAnimationFrame(() => {
      const article = document.querySelector<HTMLElement>(`[role="feed"] > article[data-item-id="${firstNew}"]`)
        ?? document.querySelector<HTMLElement>('[role="feed"] > article');
      article?.focus({ preventScroll: true });
    });
  };
  return (
    <button type="button" className="show-new" data-action="show-new" onClick={show}>
      Show {overflowed ? 'more than ' : ''}
      {count} new {count === 1 ? 'post' : 'posts'}
    </button>
  );
}
