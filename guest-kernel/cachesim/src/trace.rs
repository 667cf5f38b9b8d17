//! The trace format: CSV `timestamp_ns,op,offset,length` (a header line is allowed), op `R` or
//! `W`, offset and length in bytes. Each request touches the 4 KiB pages it overlaps.

use pagecache::PageKey;

pub const PAGE: u64 = 4096;

/// One request, already split into the pages it touches.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub write: bool,
    pub first_page: u64,
    pub pages: u64,
}

impl Request {
    pub fn keys(&self) -> impl Iterator<Item = PageKey> {
        (self.first_page..self.first_page + self.pages).map(|block| PageKey { dev: 0, block })
    }
}

/// Parses a whole trace; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Request>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("timestamp")) {
            continue;
        }
        out.push(parse_line(line).map_err(|e| format!("line {}: {e}: '{line}'", i + 1))?);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<Request, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [_, op, offset, length] = fields[..] else {
        return Err(format!("expected 4 fields, found {}", fields.len()));
    };
    let write = match op {
        "R" | "r" => false,
        "W" | "w" => true,
        other => return Err(format!("op '{other}' is not R or W")),
    };
    let offset: u64 = offset.parse().map_err(|_| format!("offset '{offset}' is not a number"))?;
    let length: u64 = length.parse().map_err(|_| format!("length '{length}' is not a number"))?;
    if length == 0 {
        return Err("length 0".into());
    }
    let end = offset.checked_add(length).ok_or("offset + length overflows")?;
    let first_page = offset / PAGE;
    Ok(Request { write, first_page, pages: end.div_ceil(PAGE) - first_page })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_cover_the_pages_they_touch() {
        let t = parse("timestamp_ns,op,offset,length\n1,R,0,4096\n2,W,4095,2\n3,r,8192,12288\n").unwrap();
        assert_eq!(t[0], Request { write: false, first_page: 0, pages: 1 });
        assert_eq!(t[1], Request { write: true, first_page: 0, pages: 2 }, "straddles a page boundary");
        assert_eq!(t[2], Request { write: false, first_page: 2, pages: 3 });
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(parse("1,X,0,4096").unwrap_err().contains("line 1"));
        assert!(parse("1,R,0").unwrap_err().contains("4 fields"));
        assert!(parse("1,R,abc,4096").unwrap_err().contains("offset"));
        assert!(parse("1,R,0,0").unwrap_err().contains("length 0"));
        assert!(parse(&format!("1,R,{},1", u64::MAX)).unwrap_err().contains("overflows"));
    }
}
