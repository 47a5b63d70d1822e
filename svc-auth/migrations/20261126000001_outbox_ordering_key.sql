-- What an outbox event is about (an account, a follower): the relay delivers the events of one
-- key in the order they were written and different keys concurrently. Rows written before
-- this column existed have none and keep one shared order.
ALTER TABLE outbox ADD COLUMN ordering_key TEXT;
