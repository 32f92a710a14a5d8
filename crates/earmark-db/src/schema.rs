//! The tables, once for both backends (see [`crate::sql_types`] for the two portable types).

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::TimeSql;

    books (asin) {
        asin -> Text,
        title -> Text,
        subtitle -> Nullable<Text>,
        author -> Nullable<Text>,
        narrator -> Nullable<Text>,
        series -> Nullable<Text>,
        series_sequence -> Nullable<Text>,
        runtime_min -> Nullable<Integer>,
        cover_url -> Nullable<Text>,
        metadata_json -> Text,
        status -> Text,
        local_path_aax -> Nullable<Text>,
        local_path_voucher -> Nullable<Text>,
        local_path_cover -> Nullable<Text>,
        local_path_converted -> Nullable<Text>,
        conversion_format -> Nullable<Text>,
        error_message -> Nullable<Text>,
        created_at -> TimeSql,
        updated_at -> TimeSql,
        removed_at -> Nullable<TimeSql>,
        series_asin -> Nullable<Text>,
        release_date -> Nullable<Text>,
        purchase_date -> Nullable<Text>,
        content_type -> Text,
        position_ms -> Nullable<BigInt>,
        last_chapter_id -> Nullable<Text>,
        playback_speed -> Nullable<Double>,
        is_finished -> Bool,
        last_played_at -> Nullable<TimeSql>,
        completed_at -> Nullable<TimeSql>,
        progress_synced_at -> Nullable<TimeSql>,
        progress_sync_error -> Nullable<Text>,
        parent_asin -> Nullable<Text>,
        parent_position -> Nullable<Integer>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IdSql, TimeSql};

    jobs (id) {
        id -> IdSql,
        task_type -> Text,
        asin -> Nullable<Text>,
        params -> Text,
        status -> Text,
        progress_percent -> Double,
        status_message -> Nullable<Text>,
        log_file_path -> Nullable<Text>,
        error -> Nullable<Text>,
        attempts -> Integer,
        original_job_id -> Nullable<IdSql>,
        created_at -> TimeSql,
        started_at -> Nullable<TimeSql>,
        finished_at -> Nullable<TimeSql>,
        updated_at -> TimeSql,
        run_after -> Nullable<TimeSql>,
        outputs -> Text,
        paused_at -> Nullable<TimeSql>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IdSql, TimeSql};

    files (id) {
        id -> IdSql,
        asin -> Text,
        kind -> Text,
        path -> Text,
        size -> BigInt,
        mime -> Text,
        created_at -> TimeSql,
    }
}

diesel::joinable!(files -> books (asin));
diesel::table! {
    settings (id) {
        id -> Integer,
        body -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::TimeSql;

    book_licences (asin) {
        asin -> Text,
        acr -> Text,
        updated_at -> TimeSql,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::TimeSql;

    schedule (id) {
        id -> Integer,
        next_sync_at -> Nullable<TimeSql>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IdSql, TimeSql};

    webhooks (id) {
        id -> IdSql,
        url -> Text,
        secret -> Nullable<Text>,
        events -> Text,
        created_at -> TimeSql,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IdSql, TimeSql};

    webhook_deliveries (seq) {
        seq -> BigInt,
        id -> IdSql,
        webhook_id -> IdSql,
        event -> Text,
        notification_id -> IdSql,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        created_at -> TimeSql,
        last_attempt_at -> Nullable<TimeSql>,
        next_attempt_at -> Nullable<TimeSql>,
        response_status -> Nullable<Integer>,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IdSql, TimeSql};

    local_items (id) {
        id -> IdSql,
        asin -> Nullable<Text>,
        title -> Text,
        authors -> Nullable<Text>,
        path -> Text,
        format -> Nullable<Text>,
        size -> BigInt,
        mime -> Text,
        created_at -> TimeSql,
        updated_at -> TimeSql,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    books,
    jobs,
    files,
    settings,
    book_licences,
    schedule,
    webhooks,
    webhook_deliveries,
    local_items
);
