//! Owners and grants: PostgreSQL's `aclitem` text form (`grantee=privs/grantor`) turned into
//! [`Grant`]s with privilege keywords.

use crate::schema::Grant;

/// Privilege letters of `aclitem`, in the canonical order grants are listed in.
const PRIVILEGES: &[(char, &str)] = &[
    ('r', "SELECT"),
    ('a', "INSERT"),
    ('w', "UPDATE"),
    ('d', "DELETE"),
    ('D', "TRUNCATE"),
    ('x', "REFERENCES"),
    ('t', "TRIGGER"),
    ('m', "MAINTAIN"),
    ('X', "EXECUTE"),
    ('U', "USAGE"),
    ('C', "CREATE"),
    ('c', "CONNECT"),
    ('T', "TEMPORARY"),
    ('s', "SET"),
    ('A', "ALTER SYSTEM"),
];

/// Parses an ACL array (as `aclitem[]::text[]`). `None` means the object still has its default
/// privileges, which are not recorded.
pub fn parse_acl(items: Option<Vec<String>>) -> Vec<Grant> {
    let mut grants: Vec<Grant> = items
        .unwrap_or_default()
        .iter()
        .filter_map(|item| parse_item(item))
        .collect();
    grants.sort();
    grants
}

fn parse_item(item: &str) -> Option<Grant> {
    let (grantee, rest) = split_grantee(item)?;
    let privs = rest.split('/').next().unwrap_or("");
    let mut privileges = Vec::new();
    let mut grantable = Vec::new();
    let chars: Vec<char> = privs.chars().collect();
    for &(letter, keyword) in PRIVILEGES {
        if let Some(pos) = chars.iter().position(|&c| c == letter) {
            privileges.push(keyword.to_string());
            if chars.get(pos + 1) == Some(&'*') {
                grantable.push(keyword.to_string());
            }
        }
    }
    if privileges.is_empty() {
        return None;
    }
    Some(Grant {
        to: if grantee.is_empty() {
            "PUBLIC".to_string()
        } else {
            grantee
        },
        privileges,
        grantable,
    })
}

/// Splits `grantee=rest`, where the grantee may be double-quoted (and contain `=`).
fn split_grantee(item: &str) -> Option<(String, &str)> {
    if let Some(quoted) = item.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if chars.peek().map(|&(_, n)| n) == Some('"') {
                    name.push('"');
                    chars.next();
                } else {
                    let rest = quoted[i + 1..].strip_prefix('=')?;
                    return Some((name, rest));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let (grantee, rest) = item.split_once('=')?;
        Some((grantee.to_string(), rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_public_quoted_and_grant_option_items() {
        let grants = parse_acl(Some(vec![
            "=r/postgres".into(),
            "\"app user\"=a*rw/postgres".into(),
        ]));
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[0].to, "PUBLIC");
        assert_eq!(grants[0].privileges, vec!["SELECT"]);
        assert_eq!(grants[1].to, "app user");
        assert_eq!(grants[1].privileges, vec!["SELECT", "INSERT", "UPDATE"]);
        assert_eq!(grants[1].grantable, vec!["INSERT"]);
    }
}
