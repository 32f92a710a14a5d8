//! Column types that read and write natively on both backends, so one schema serves both.
//!
//! PostgreSQL stores ids as `uuid` and times as `timestamptz`. SQLite has neither: ids are
//! hyphenated text, times are text in one fixed-width format (`YYYY-MM-DDTHH:MM:SS.ffffffZ`)
//! whose text order is time order, which the change feed's comparisons rely on.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{SqlType, Text, Timestamptz, Uuid as PgUuid};
use diesel::sqlite::Sqlite;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// SQL type of id columns: `uuid` on PostgreSQL, `TEXT` on SQLite.
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct IdSql;

/// SQL type of time columns: `timestamptz` on PostgreSQL, fixed-format `TEXT` on SQLite.
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct TimeSql;

/// A UUID as stored in an [`IdSql`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = IdSql)]
pub struct DbId(pub uuid::Uuid);

/// A UTC time, truncated to microseconds (what PostgreSQL keeps), in a [`TimeSql`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = TimeSql)]
pub struct DbTime(OffsetDateTime);

impl DbTime {
    /// `at` in UTC, truncated to whole microseconds so that it survives a round trip exactly.
    pub fn new(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let micros = utc.nanosecond() / 1_000 * 1_000;
        Self(utc.replace_nanosecond(micros).unwrap_or(utc))
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// The time as a `time` value.
    pub fn get(self) -> OffsetDateTime {
        self.0
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
    }

    /// The time `micros` microseconds after the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Self {
        Self::new(
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    fn to_sqlite_text(self) -> Result<String, time::error::Format> {
        self.0.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
    }
}

impl From<OffsetDateTime> for DbTime {
    fn from(at: OffsetDateTime) -> Self {
        Self::new(at)
    }
}

impl ToSql<IdSql, Pg> for DbId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<PgUuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<IdSql, Pg> for DbId {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<PgUuid, Pg>>::from_sql(bytes).map(DbId)
    }
}

impl ToSql<IdSql, Sqlite> for DbId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<IdSql, Sqlite> for DbId {
    fn from_sql(
        value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Ok(DbId(uuid::Uuid::parse_str(&text)?))
    }
}

impl ToSql<TimeSql, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <OffsetDateTime as ToSql<Timestamptz, Pg>>::to_sql(&self.0, &mut out.reborrow())
    }
}

impl FromSql<TimeSql, Pg> for DbTime {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <OffsetDateTime as FromSql<Timestamptz, Pg>>::from_sql(bytes).map(DbTime::new)
    }
}

impl ToSql<TimeSql, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_sqlite_text()?);
        Ok(IsNull::No)
    }
}

impl FromSql<TimeSql, Sqlite> for DbTime {
    fn from_sql(
        value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Ok(DbTime::new(OffsetDateTime::parse(&text, &Rfc3339)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sqlite_text_is_fixed_width_so_text_order_is_time_order() {
        let whole = DbTime::new(datetime!(2026-01-02 03:04:05 UTC));
        let fraction = DbTime::new(datetime!(2026-01-02 03:04:05.5 UTC));
        let (a, b) = (
            whole.to_sqlite_text().unwrap(),
            fraction.to_sqlite_text().unwrap(),
        );
        assert_eq!(a, "2026-01-02T03:04:05.000000Z");
        assert_eq!(b, "2026-01-02T03:04:05.500000Z");
        assert!(a < b);
    }

    #[test]
    fn new_truncates_to_micros_and_normalises_offset() {
        let at = datetime!(2026-01-02 03:04:05.123456789 +02:00);
        let t = DbTime::new(at);
        assert_eq!(t.get().offset(), UtcOffset::UTC);
        assert_eq!(t.get().nanosecond(), 123_456_000);
        assert_eq!(DbTime::from_unix_micros(t.unix_micros()), t);
    }
}
