//! The parts fakes are built from. Names of people, streets, cities and companies are made up
//! from syllables (`Caelith Vaskorn`, `4821 Dunora Way`) rather than drawn from lists of real
//! names: a masked copy then never holds a real person's name or a real address by chance, and
//! checking a copy for leaks by comparing values with the originals does not trip on common
//! names. The lists are part of the output's definition: changing one changes every fake
//! derived from it (masked copies made before and after would no longer join on faked
//! columns), so they only change with a release note.

/// First syllables of given names.
pub const GIVEN_START: &[&str] = &[
    "Ala", "Bre", "Cae", "Dri", "Elo", "Fae", "Gwy", "Haz", "Ilo", "Jav", "Kae", "Lir", "Mabe",
    "Nyx", "Ori", "Pry", "Quy", "Ryl", "Syl", "Tav", "Ulv", "Vey", "Wyn", "Xal", "Yse", "Zor",
];

/// Last syllables of given names.
pub const GIVEN_END: &[&str] = &[
    "bel", "dra", "fen", "gard", "lith", "mira", "nor", "phine", "quin", "ros", "sande", "thys",
    "vane", "wen", "xia", "zelle", "dric", "lora", "mund", "nette",
];

/// First syllables of family names.
pub const FAMILY_START: &[&str] = &[
    "Vask", "Zeld", "Quar", "Yarl", "Kest", "Gral", "Marr", "Norr", "Dunv", "Wyr", "Brax", "Corv",
    "Fenn", "Hask", "Jorv", "Lusk", "Mird", "Pell", "Rivk", "Tosk",
];

/// Last syllables of family names.
pub const FAMILY_END: &[&str] = &[
    "ande", "eck", "ival", "mire", "orn", "ovar", "uss", "ylde", "ander", "ette", "ich", "olt",
    "unde", "ari", "esko", "ith", "oway", "uvin", "ard", "enne",
];

/// First syllables of place names (streets and cities).
pub const PLACE_START: &[&str] = &[
    "Brae", "Cald", "Dun", "Elv", "Fairn", "Glav", "Hal", "Kel", "Lind", "Marv", "Nor", "Ost",
    "Pelr", "Quin", "Rav", "Stav", "Thorv", "Vel", "Wyn", "Yar",
];

/// Last syllables of place names.
pub const PLACE_END: &[&str] = &[
    "vik", "dal", "ora", "ene", "ithe", "oss", "avo", "unde", "amir", "elle", "oth", "usk",
];

pub const STREET_KINDS: &[&str] = &[
    "Street",
    "Avenue",
    "Road",
    "Lane",
    "Way",
    "Drive",
    "Court",
    "Place",
    "Terrace",
    "Boulevard",
];

pub const COMPANY_KINDS: &[&str] = &[
    "Group", "Holdings", "Partners", "Labs", "Works", "Trading", "Systems", "Studio", "Supply",
];

/// Placeholder words for `fake = "text"`.
pub const LOREM: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
];

/// Reserved for documentation (RFC 2606): mail to a fake address is never delivered.
pub const EMAIL_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
