//! Month, weekday, half-day and era names for parsing text fields (`MMM`, `MMMM`, `E`,
//! `a`, `G`).
//!
//! Joda accepts, for a text field, the short or the full name in its own case, all lower
//! case or all upper case (`TextField.parseInto`), taking the longest match. The names are
//! the JDK's (CLDR) ones; abbreviations that end in a dot are also accepted without it.

use std::sync::OnceLock;

/// A locale for parsing: the language's names. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Locale {
    tables: &'static Tables,
}

impl std::fmt::Debug for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Locale({})", self.tables.lang)
    }
}

struct Tables {
    lang: &'static str,
    months: TextTable,
    days: TextTable,
    halfday: TextTable,
    eras: TextTable,
}

/// Names by first byte, longest first within a bucket.
struct TextTable {
    buckets: Vec<Vec<(Box<[u8]>, u8)>>,
}

impl TextTable {
    fn new(groups: &[&[&str]], first_value: u8) -> TextTable {
        let mut buckets: Vec<Vec<(Box<[u8]>, u8)>> = vec![Vec::new(); 256];
        for (i, names) in groups.iter().enumerate() {
            let value = first_value + i as u8;
            for name in names.iter() {
                let mut variants = vec![name.to_string(), name.to_lowercase(), name.to_uppercase()];
                if let Some(undotted) = name.strip_suffix('.') {
                    variants.extend([
                        undotted.to_string(),
                        undotted.to_lowercase(),
                        undotted.to_uppercase(),
                    ]);
                }
                for v in variants {
                    let bytes: Box<[u8]> = v.into_bytes().into_boxed_slice();
                    let bucket = &mut buckets[usize::from(bytes[0])];
                    if !bucket.iter().any(|(b, _)| *b == bytes) {
                        bucket.push((bytes, value));
                    }
                }
            }
        }
        for b in &mut buckets {
            b.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        }
        TextTable { buckets }
    }

    /// The value of the longest name at `pos`, and the position after it.
    fn parse(&self, b: &[u8], pos: usize) -> Option<(u8, usize)> {
        let rest = b.get(pos..)?;
        let first = *rest.first()?;
        self.buckets[usize::from(first)]
            .iter()
            .find(|(name, _)| rest.starts_with(name))
            .map(|(name, v)| (*v, pos + name.len()))
    }
}

impl Locale {
    /// English, Logstash's fallback when no locale is set.
    pub fn english() -> Locale {
        Locale {
            tables: tables("en"),
        }
    }

    /// A locale from a BCP 47 (`fr-FR`) or POSIX (`fr_FR`) tag; `None` when its language
    /// has no names here.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let lang = tag
            .split(['-', '_', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let lang: &'static str = LANGS.iter().find(|l| **l == lang)?;
        Some(Locale {
            tables: tables(lang),
        })
    }

    /// The language code (`en`, `fr`, ...).
    pub fn language(&self) -> &'static str {
        self.tables.lang
    }

    /// A month name at `pos`: (month 1..=12, end).
    pub(crate) fn parse_month(&self, b: &[u8], pos: usize) -> Option<(u8, usize)> {
        self.tables.months.parse(b, pos)
    }

    /// A weekday name at `pos`: (ISO day 1..=7, end).
    pub(crate) fn parse_day(&self, b: &[u8], pos: usize) -> Option<(u8, usize)> {
        self.tables.days.parse(b, pos)
    }

    /// AM/PM at `pos`: (0 for AM, 1 for PM, end).
    pub(crate) fn parse_halfday(&self, b: &[u8], pos: usize) -> Option<(u8, usize)> {
        self.tables.halfday.parse(b, pos)
    }

    /// An era at `pos`: (0 for BC, 1 for AD, end).
    pub(crate) fn parse_era(&self, b: &[u8], pos: usize) -> Option<(u8, usize)> {
        self.tables.eras.parse(b, pos)
    }
}

const LANGS: &[&str] = &["en", "fr", "de", "es", "it", "pt", "nl"];

fn tables(lang: &'static str) -> &'static Tables {
    static CACHE: OnceLock<Vec<Tables>> = OnceLock::new();
    let all = CACHE.get_or_init(|| LANGS.iter().map(|l| build(l)).collect());
    all.iter().find(|t| t.lang == lang).unwrap_or(&all[0])
}

/// Builds a language's tables: (full, short) month names, (full, short) day names
/// Monday first, extra abbreviations.
fn build(lang: &'static str) -> Tables {
    let (months, days): ([&[&str]; 12], [&[&str]; 7]) = match lang {
        "fr" => (
            [
                &["janvier", "janv."],
                &["février", "févr."],
                &["mars"],
                &["avril", "avr."],
                &["mai"],
                &["juin"],
                &["juillet", "juil."],
                &["août"],
                &["septembre", "sept."],
                &["octobre", "oct."],
                &["novembre", "nov."],
                &["décembre", "déc."],
            ],
            [
                &["lundi", "lun."],
                &["mardi", "mar."],
                &["mercredi", "mer."],
                &["jeudi", "jeu."],
                &["vendredi", "ven."],
                &["samedi", "sam."],
                &["dimanche", "dim."],
            ],
        ),
        "de" => (
            [
                &["Januar", "Jan."],
                &["Februar", "Feb."],
                &["März", "Mär."],
                &["April", "Apr."],
                &["Mai"],
                &["Juni", "Jun."],
                &["Juli", "Jul."],
                &["August", "Aug."],
                &["September", "Sept.", "Sep."],
                &["Oktober", "Okt."],
                &["November", "Nov."],
                &["Dezember", "Dez."],
            ],
            [
                &["Montag", "Mo."],
                &["Dienstag", "Di."],
                &["Mittwoch", "Mi."],
                &["Donnerstag", "Do."],
                &["Freitag", "Fr."],
                &["Samstag", "Sa."],
                &["Sonntag", "So."],
            ],
        ),
        "es" => (
            [
                &["enero", "ene."],
                &["febrero", "feb."],
                &["marzo", "mar."],
                &["abril", "abr."],
                &["mayo", "may."],
                &["junio", "jun."],
                &["julio", "jul."],
                &["agosto", "ago."],
                &["septiembre", "sept.", "sep."],
                &["octubre", "oct."],
                &["noviembre", "nov."],
                &["diciembre", "dic."],
            ],
            [
                &["lunes", "lun."],
                &["martes", "mar."],
                &["miércoles", "mié."],
                &["jueves", "jue."],
                &["viernes", "vie."],
                &["sábado", "sáb."],
                &["domingo", "dom."],
            ],
        ),
        "it" => (
            [
                &["gennaio", "gen"],
                &["febbraio", "feb"],
                &["marzo", "mar"],
                &["aprile", "apr"],
                &["maggio", "mag"],
                &["giugno", "giu"],
                &["luglio", "lug"],
                &["agosto", "ago"],
                &["settembre", "set"],
                &["ottobre", "ott"],
                &["novembre", "nov"],
                &["dicembre", "dic"],
            ],
            [
                &["lunedì", "lun"],
                &["martedì", "mar"],
                &["mercoledì", "mer"],
                &["giovedì", "gio"],
                &["venerdì", "ven"],
                &["sabato", "sab"],
                &["domenica", "dom"],
            ],
        ),
        "pt" => (
            [
                &["janeiro", "jan."],
                &["fevereiro", "fev."],
                &["março", "mar."],
                &["abril", "abr."],
                &["maio", "mai."],
                &["junho", "jun."],
                &["julho", "jul."],
                &["agosto", "ago."],
                &["setembro", "set."],
                &["outubro", "out."],
                &["novembro", "nov."],
                &["dezembro", "dez."],
            ],
            [
                &["segunda-feira", "seg."],
                &["terça-feira", "ter."],
                &["quarta-feira", "qua."],
                &["quinta-feira", "qui."],
                &["sexta-feira", "sex."],
                &["sábado", "sáb."],
                &["domingo", "dom."],
            ],
        ),
        "nl" => (
            [
                &["januari", "jan."],
                &["februari", "feb."],
                &["maart", "mrt."],
                &["april", "apr."],
                &["mei"],
                &["juni", "jun."],
                &["juli", "jul."],
                &["augustus", "aug."],
                &["september", "sep."],
                &["oktober", "okt."],
                &["november", "nov."],
                &["december", "dec."],
            ],
            [
                &["maandag", "ma"],
                &["dinsdag", "di"],
                &["woensdag", "wo"],
                &["donderdag", "do"],
                &["vrijdag", "vr"],
                &["zaterdag", "za"],
                &["zondag", "zo"],
            ],
        ),
        _ => (
            [
                &["January", "Jan"],
                &["February", "Feb"],
                &["March", "Mar"],
                &["April", "Apr"],
                &["May"],
                &["June", "Jun"],
                &["July", "Jul"],
                &["August", "Aug"],
                &["September", "Sep", "Sept"],
                &["October", "Oct"],
                &["November", "Nov"],
                &["December", "Dec"],
            ],
            [
                &["Monday", "Mon"],
                &["Tuesday", "Tue"],
                &["Wednesday", "Wed"],
                &["Thursday", "Thu"],
                &["Friday", "Fri"],
                &["Saturday", "Sat"],
                &["Sunday", "Sun"],
            ],
        ),
    };
    let eras: [&[&str]; 2] = if lang == "en" {
        [&["BC", "BCE"], &["AD", "CE"]]
    } else {
        [&["BC", "av. J.-C."], &["AD"]]
    };
    Tables {
        lang,
        months: TextTable::new(&months, 1),
        days: TextTable::new(&days, 1),
        halfday: TextTable::new(&[&["AM", "a.m."], &["PM", "p.m."]], 0),
        eras: TextTable::new(&eras, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_names_in_joda_cases() {
        let en = Locale::english();
        assert_eq!(en.parse_month(b"Mar 3", 0), Some((3, 3)));
        assert_eq!(en.parse_month(b"march", 0), Some((3, 5)));
        assert_eq!(en.parse_month(b"MARCH", 0), Some((3, 5)));
        assert_eq!(en.parse_month(b"Sept", 0), Some((9, 4)));
        // Mixed case other than the name's own is not accepted by Joda.
        assert_eq!(en.parse_month(b"mAr", 0), None);
        assert_eq!(en.parse_day(b"Sunday", 0), Some((7, 6)));
        assert_eq!(en.parse_halfday(b"pm", 0), Some((1, 2)));
    }

    #[test]
    fn other_languages() {
        let fr = Locale::from_tag("fr_FR").unwrap();
        assert_eq!(fr.language(), "fr");
        assert_eq!(fr.parse_month("14 juillet".as_bytes(), 3), Some((7, 10)));
        assert_eq!(fr.parse_month("févr. 2".as_bytes(), 0), Some((2, 6)));
        assert_eq!(fr.parse_month("AOÛT".as_bytes(), 0), Some((8, 5)));
        let de = Locale::from_tag("de-DE").unwrap();
        assert_eq!(de.parse_month("März".as_bytes(), 0), Some((3, 5)));
        assert!(Locale::from_tag("en-US").is_some());
        assert!(Locale::from_tag("xx").is_none());
    }
}
