/// A page size: 0 means the default; larger than the cap is cut to the cap (a hard cap, so no
/// client can ask for an unbounded page); negative is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("must not be negative")]
pub struct NegativeLimit;

impl PageLimit {
    pub const DEFAULT: u32 = 20;
    pub const MAX: u32 = 100;

    pub fn parse(raw: i32) -> Result<Self, NegativeLimit> {
        Self::parse_with(raw, Self::DEFAULT, Self::MAX)
    }

    pub fn parse_with(raw: i32, default: u32, max: u32) -> Result<Self, NegativeLimit> {
        match raw {
            ..0 => Err(NegativeLimit),
            0 => Ok(PageLimit(default.min(max))),
            n => Ok(PageLimit((n as u32).min(max))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// One more than the page, to learn whether another page follows.
    pub fn probe(self) -> i64 {
        i64::from(self.0) + 1
    }

    /// Cuts rows read with [`probe`](Self::probe) to the page and returns the cursor of the
    /// next page: `cursor_of` the page's last row when a row was left over, else `None`.
    pub fn cut<T, C>(self, mut rows: Vec<T>, cursor_of: impl Fn(&T) -> C) -> (Vec<T>, Option<C>) {
        let more = rows.len() > self.0 as usize;
        rows.truncate(self.0 as usize);
        let next = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        (rows, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_caps_and_rejects_negative() {
        assert_eq!(PageLimit::parse(0).map(PageLimit::get), Ok(20));
        assert_eq!(PageLimit::parse(7).map(PageLimit::get), Ok(7));
        assert_eq!(PageLimit::parse(1000).map(PageLimit::get), Ok(100));
        assert_eq!(PageLimit::parse(-1), Err(NegativeLimit));
    }

    #[test]
    fn a_cut_names_the_next_page_only_when_a_row_was_left_over() {
        let limit = PageLimit::parse(2).unwrap();
        assert_eq!(limit.cut(vec![9, 8, 7], |&id| id), (vec![9, 8], Some(8)));
        assert_eq!(limit.cut(vec![9, 8], |&id| id), (vec![9, 8], None));
        assert_eq!(limit.cut(Vec::<i64>::new(), |&id| id), (vec![], None));
        assert_eq!(PageLimit::parse_with(0, 20, 20).map(PageLimit::get), Ok(20));
    }
}
