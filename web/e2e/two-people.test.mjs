// Two people through the real stack: Alice and Bob sign up; Bob finds Alice by search and
// follows her; she posts with a mention, a hashtag, a link and an emoji; it reaches Bob behind
// "Show 1 new post"; he likes it (the count moves at once and is still there after a reload),
// replies, reposts, quotes and deletes his quote; Alice sees the notifications and the unread
// count, and follows her hashtag. Every page state passes every audit.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { auditState, launch, openPage } from './browser.mjs';
import { articleWith, nav, reloadUntil, shows, signUp, uniqueName } from './steps.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('two people follow, post, see new posts, like, reply, repost, quote, delete and get notified', async () => {
  const alice = await openPage(browser);
  const bob = await openPage(browser);
  const audit = (who, state) => auditState(who.page, who.context, who.problems, state);
  const aliceName = uniqueName('alice');
  const bobName = uniqueName('bob');
  bob.name = bobName;
  await signUp(alice.page, aliceName);
  await audit(alice, 'home-empty');
  await signUp(bob.page, bobName);

  await bobFindsAndFollows(bob, aliceName, audit);

  // Bob reads his home timeline while Alice posts.
  await nav(bob.page, 'Home').click();
  await bob.page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  const text = `hi @${bobName} #xir${aliceName.slice(-4)} https://example.com/a 🦀`;
  await alice.page.getByLabel('What is happening?').fill(text);
  await alice.page.getByRole('button', { name: 'Post', exact: true }).click();
  // Her own post is on top of her timeline at once.
  await shows(articleWith(alice.page, 'https://example.com/a'), 10_000);

  // It reaches Bob behind the button (polled every 15 s while visible), never pushed in.
  const showNew = bob.page.getByRole('button', { name: 'Show 1 new post' });
  await shows(showNew, 90_000);
  await audit(bob, 'home-new-post');
  await showNew.click();
  const post = articleWith(bob.page, 'https://example.com/a');
  await shows(post);
  assert.equal(await post.evaluate((article) => article === document.activeElement), true, 'the focus is on the new post');
  await audit(bob, 'home');

  await bobLikesRepliesRepostsQuotesAndDeletes(bob, post, audit);
  await aliceIsNotified(alice, bobName, audit);
  // Bob was mentioned.
  await nav(bob.page, /^Notifications/, false).click();
  const mention = bob.page.getByRole('feed', { name: 'Notifications' }).getByText('mentioned you');
  await reloadUntil(bob, 'the mention', mention);

  // Her hashtag, from the link in her post.
  await nav(alice.page, 'Home').click();
  await articleWith(alice.page, 'https://example.com/a').getByRole('link', { name: `#xir${aliceName.slice(-4)}` }).click();
  await alice.page.getByRole('heading', { level: 1, name: `#xir${aliceName.slice(-4)}` }).waitFor();
  await shows(articleWith(alice.page, 'https://example.com/a'));
  await audit(alice, 'hashtag');

  await alice.context.close();
  await bob.context.close();
});

async function bobFindsAndFollows(bob, aliceName, audit) {
  const { page } = bob;
  await nav(page, 'Search').click();
  await page.getByRole('heading', { level: 1, name: 'Search people' }).waitFor();
  await page.getByLabel('Name or username').fill(aliceName);
  const found = page.getByRole('list', { name: 'People found' }).getByRole('link', { name: new RegExp(aliceName) });
  // Her profile is created as she signs up; search until it is there.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const searched = page.waitForResponse((response) => response.url().includes('/v1/search/users'));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await searched;
    await shows(page.getByRole('status').filter({ hasText: /found for|Nobody matches/ }));
    if (await found.isVisible()) break;
    assert.ok(Date.now() < deadline, 'Alice never showed in the search');
  }
  const follow = page.getByRole('button', { name: `Follow ${aliceName}` });
  await shows(follow);
  assert.equal(await follow.getAttribute('aria-pressed'), 'false');
  await audit(bob, 'search');
  const followed = page.waitForResponse((response) => response.url().endsWith('/follow'));
  await follow.click();
  // Pressed at once, and the server agrees.
  assert.equal(await follow.getAttribute('aria-pressed'), 'true');
  assert.equal((await followed).status(), 200);
  await found.click();
  await page.getByRole('heading', { level: 1, name: aliceName }).waitFor();
  await shows(page.getByRole('button', { name: `Follow ${aliceName}`, pressed: true }));
  await audit(bob, 'profile-followed');
  // Her followers: Bob, with no follow button of his own.
  await page.getByRole('link', { name: /followers/ }).click();
  await page.getByRole('heading', { level: 1, name: `Followers of ${aliceName}` }).waitFor();
  await shows(page.getByRole('list', { name: 'Followers' }).getByRole('link', { name: new RegExp(bob.name) }));
  await audit(bob, 'followers');
}

async function bobLikesRepliesRepostsQuotesAndDeletes(bob, post, audit) {
  const { page } = bob;
  // Like: the count moves at once, and is still there after a reload.
  const liked = page.waitForResponse((response) => response.url().endsWith('/like'));
  await post.getByRole('button', { name: /^Like 0/ }).click();
  await shows(post.getByRole('button', { name: /^Liked 1/, pressed: true }), 1_000);
  assert.equal((await liked).status(), 200);
  // From here on the post is found by its id: the quote below shows its text too.
  const tweetId = await post.getAttribute('data-tweet-id');
  await bob.idle();
  await page.reload();
  const reloaded = page.getByRole('feed').locator(`article[data-tweet-id="${tweetId}"]`).first();
  await shows(reloaded.getByRole('button', { name: /^Liked 1/, pressed: true }));

  // Repost, at once.
  await reloaded.getByRole('button', { name: /^Repost 0/ }).click();
  await shows(reloaded.getByRole('button', { name: /^Reposted 1/, pressed: true }), 1_000);

  // Quote, in the dialog; the focus comes back to the Quote button.
  const quoteButton = reloaded.getByRole('button', { name: 'Quote' });
  await quoteButton.click();
  const dialog = page.getByRole('dialog', { name: 'Quote a post' });
  await shows(dialog);
  await dialog.getByLabel('Add a comment').fill('quoting this');
  await audit(bob, 'quote-dialog');
  await dialog.getByRole('button', { name: 'Post', exact: true }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.waitForFunction(
    (id) => document.activeElement === document.querySelector(`article[data-tweet-id="${id}"] [data-action="quote"]`),
    tweetId,
    { timeout: 5_000 },
  );
  const quote = page.getByRole('feed').getByRole('article').filter({ hasText: 'quoting this' }).first();
  await shows(quote);

  // Delete the quote.
  await quote.getByRole('button', { name: 'Delete', exact: true }).click();
  await quote.getByRole('button', { name: 'Delete for good' }).click();
  await page.getByRole('feed').getByText('quoting this').waitFor({ state: 'detached' });

  // Reply, in the thread.
  await reloaded.getByRole('link', { name: /^Reply/ }).click();
  await page.getByRole('heading', { level: 1, name: 'Post' }).waitFor();
  await page.getByLabel('Post your reply').fill('a reply from Bob');
  await page.getByRole('button', { name: 'Reply', exact: true }).click();
  await shows(page.getByRole('feed', { name: 'Replies' }).getByText('a reply from Bob'));
  await audit(bob, 'thread');
}

async function aliceIsNotified(alice, bobName, audit) {
  const { page } = alice;
  const unread = nav(page, /^Notifications \(\d+ unread\)$/, false);
  await reloadUntil(alice, 'the unread count', unread);
  await unread.click();
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  const feed = page.getByRole('feed', { name: 'Notifications' });
  for (const doing of ['followed you', 'liked your post', 'reposted your post', 'replied to your post']) {
    await reloadUntil(alice, `"${bobName} ${doing}"`, feed.getByText(doing));
  }
  // Seeing the list reads it.
  await shows(nav(page, 'Notifications'));
  await audit(alice, 'notifications');
}
