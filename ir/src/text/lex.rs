//! The lexer of the text format: words, `%names`, punctuation and line ends,
//! each with its 1-based line and column (counted in characters).

use std::fmt;

use crate::error::{IrError, Result};
use crate::graph::is_name_char;

/// A position in the text, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn error(self, message: impl Into<String>) -> IrError {
        IrError::Parse {
            line: self.line,
            col: self.col,
            message: message.into(),
        }
    }

    /// Re-locates an error of the graph API (type, duplicate, update rules)
    /// at this position, keeping its message.
    pub fn wrap(self, error: IrError) -> IrError {
        match error {
            IrError::Parse { .. } => error,
            other => self.error(other.to_string()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Tok<'a> {
    /// A run of name characters: keywords, names, integers and floats.
    Word(&'a str),
    /// `%name`, without the `%`.
    Value(&'a str),
    /// One of `{ } [ ] ( ) : = , ;`.
    Punct(char),
    /// `<-`
    Arrow,
    Newline,
    Eof,
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Value(v) => write!(f, "`%{v}`"),
            Tok::Punct(c) => write!(f, "`{c}`"),
            Tok::Arrow => f.write_str("`<-`"),
            Tok::Newline => f.write_str("end of line"),
            Tok::Eof => f.write_str("end of input"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'a> {
    pub tok: Tok<'a>,
    pub pos: Pos,
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    /// Byte offset of the next character (always on a char boundary).
    offset: usize,
    pos: Pos,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            offset: 0,
            pos: Pos { line: 1, col: 1 },
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.offset..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn advance(&mut self) {
        if let Some(c) = self.peek() {
            self.offset += c.len_utf8();
            if c == '\n' {
                self.pos.line += 1;
                self.pos.col = 1;
            } else {
                self.pos.col += 1;
            }
        }
    }

    /// The run of name characters at the current position (maybe empty).
    fn name(&mut self) -> &'a str {
        let start = self.offset;
        while self.peek().is_some_and(is_name_char) {
            self.advance();
        }
        self.text.get(start..self.offset).unwrap_or("")
    }

    /// The next token; spaces and `//` comments are skipped, line ends are not.
    pub fn next_token(&mut self) -> Result<Token<'a>> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() && c != '\n' => self.advance(),
                Some('/') if self.rest().starts_with("//") => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.advance();
                    }
                }
                _ => break,
            }
        }
        let pos = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token { tok: Tok::Eof, pos });
        };
        let tok = match c {
            '\n' => {
                self.advance();
                Tok::Newline
            }
            '%' => {
                self.advance();
                match self.name() {
                    "" => return Err(pos.error("expected a value name after `%`")),
                    name => Tok::Value(name),
                }
            }
            '<' => {
                self.advance();
                if self.peek() != Some('-') {
                    return Err(pos.error("unexpected character `<` (did you mean `<-`?)"));
                }
                self.advance();
                Tok::Arrow
            }
            '{' | '}' | '[' | ']' | '(' | ')' | ':' | '=' | ',' | ';' => {
                self.advance();
                Tok::Punct(c)
            }
            c if is_name_char(c) => Tok::Word(self.name()),
            c => return Err(pos.error(format!("unexpected character `{}`", c.escape_debug()))),
        };
        Ok(Token { tok, pos })
    }
}
