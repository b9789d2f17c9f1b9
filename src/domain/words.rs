//! [`words!`]: an enum of the words one layer hands another (a webhook's state, an
//! import's status, a role…), written once with its text. Text becomes a word at the edge
//! (`FromStr`, and `TryFrom<String>` for a column read from the database) and goes back
//! to text when shown or stored (`as_str`, `Display`); nothing in between compares
//! strings.

/// Declares `enum $name { $variant = "text", … }` (attributes and doc comments kept) with
/// `ALL` (every variant, in order), `as_str`, `Display`, `FromStr` (the exact text; any
/// other is refused naming `$what` and the words it takes) and `TryFrom<String>`.
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every word, in the order declared.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .into_iter()
                    .find(|w| w.as_str() == s)
                    .ok_or_else(|| {
                        format!(
                            "{s:?} is not {}; use {}",
                            $what,
                            [$($text),+].join(", ")
                        )
                    })
            }
        }

        /// As read from the database.
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    words! {
        /// A word for the test.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Colour ("a colour") {
            Red = "red",
            /// With a doc comment.
            DarkBlue = "dark.blue",
        }
    }

    #[test]
    fn words_round_trip_through_text_and_others_are_refused_naming_the_words() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
        for c in Colour::ALL {
            assert_eq!(c.to_string().parse::<Colour>(), Ok(c));
            assert_eq!(Colour::try_from(c.as_str().to_string()), Ok(c));
        }
        assert_eq!(Colour::DarkBlue.as_str(), "dark.blue");
        assert_eq!(
            "Red".parse::<Colour>(),
            Err(r#""Red" is not a colour; use red, dark.blue"#.to_string())
        );
        assert!(" red".parse::<Colour>().is_err());
    }
}
