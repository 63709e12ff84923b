//! Building the registrar's responses: status lines, the headers of the 200 OK (RFC 3261 §10.3
//! step 8, TS 24.229 §5.4.1.2.2), the Date header (RFC 3261 §20.17, RFC 1123 form), and the
//! mapping of Cx answers to SIP statuses (TS 24.229 §5.4.1.2.1).

use std::time::{SystemTime, UNIX_EPOCH};

use sip::{HeaderName, Message, MessageBuilder};

use crate::store::UnixSecs;
use crate::CscfError;

/// A response to `req` (To tag added), falling back to a bare 500 if the builder refuses
/// (a header value we were given contains CR/LF, which parsing of the request rules out).
pub(crate) fn finish(b: MessageBuilder, req: &Message) -> Message {
    match b.build() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot build registrar response");
            sip_stack::ua::response(req, 500, "Server Internal Error", None)
                .build()
                .unwrap_or_else(|_| minimal_500())
        }
    }
}

/// The last resort when even a copy of the request's headers does not build.
fn minimal_500() -> Message {
    // A fixed, well-formed message: parsing cannot fail.
    Message::parse(&b"SIP/2.0 500 Server Internal Error\r\nContent-Length: 0\r\n\r\n"[..])
        .unwrap_or_else(|_| unreachable!("constant message parses"))
}

/// A response with only a status and reason (plus the copied dialog headers and a To tag).
pub(crate) fn simple(req: &Message, code: u16, reason: &str) -> Message {
    finish(sip_stack::ua::response(req, code, reason, None), req)
}

/// A response with a Warning-free reason and a `Retry-After` for server-side trouble.
pub(crate) fn unavailable(req: &Message, e: &CscfError) -> Message {
    let (code, reason) = if matches!(e, CscfError::DiameterTimeout { .. }) {
        (504, "Server Time-out")
    } else {
        (500, "Server Internal Error")
    };
    finish(
        sip_stack::ua::response(req, code, reason, None).header(HeaderName::RetryAfter, 5),
        req,
    )
}

/// The status for a Cx answer that is not a success (TS 24.229 §5.4.1.2.1: 403 when the HSS
/// does not know the user or the identities do not match; server errors otherwise).
pub(crate) fn status_for_cx(result: &cx::CxResult) -> (u16, &'static str) {
    use cx::result::base;
    use cx::ExperimentalResultCode as X;
    match result.cx_code() {
        Some(
            X::ErrorUserUnknown
            | X::ErrorIdentitiesDontMatch
            | X::ErrorAuthSchemeNotSupported
            | X::ErrorRoamingNotAllowed
            | X::ErrorIdentityNotRegistered,
        ) => (403, "Forbidden"),
        Some(X::ErrorInAssignmentType | X::ErrorTooMuchData | X::ErrorNotSupportedUserData) => {
            (500, "Server Internal Error")
        }
        _ => match result.code() {
            base::DIAMETER_AUTHORIZATION_REJECTED | base::DIAMETER_AUTHENTICATION_REJECTED => {
                (403, "Forbidden")
            }
            base::DIAMETER_TOO_BUSY | base::DIAMETER_UNABLE_TO_DELIVER => {
                (503, "Service Unavailable")
            }
            _ => (500, "Server Internal Error"),
        },
    }
}

/// Current wall-clock time in UNIX seconds.
pub(crate) fn unix(t: SystemTime) -> UnixSecs {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 1123 date in GMT as RFC 3261 §20.17 wants it: `Sat, 13 Nov 2010 23:29:00 GMT`.
pub(crate) fn http_date(secs: UnixSecs) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 3261 §20.17 example.
        assert_eq!(http_date(1_289_690_940), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn cx_results() {
        use cx::ExperimentalResultCode as X;
        assert_eq!(
            status_for_cx(&cx::CxResult::experimental(X::ErrorUserUnknown)).0,
            403
        );
        assert_eq!(
            status_for_cx(&cx::CxResult::experimental(X::ErrorIdentitiesDontMatch)).0,
            403
        );
        assert_eq!(status_for_cx(&cx::CxResult::ResultCode(5012)).0, 500);
        assert_eq!(status_for_cx(&cx::CxResult::ResultCode(3004)).0, 503);
    }
}
