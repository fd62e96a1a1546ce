using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OperationsHub.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class GridSearchAndSort : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "duration_ms",
                table: "operation_runs",
                type: "INTEGER",
                nullable: false,
                computedColumnSql: "CASE WHEN started_at IS NULL OR completed_at IS NULL THEN 0 ELSE CAST(round((julianday(completed_at) - julianday(started_at)) * 86400000.0) AS INTEGER) END",
                stored: false);

            migrationBuilder.CreateIndex(
                name: "ix_operation_runs_tenant_duration",
                table: "operation_runs",
                columns: new[] { "tenant_id", "duration_ms" });

            // The grid's search also matches the initiator's name and the operation (by type): the trigram table
            // gets those columns. Rebuilt from operation_runs (its content table), so existing runs are found too.
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS operation_runs_search_insert;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS operation_runs_search_delete;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS run_search;");
            migrationBuilder.Sql("""
                CREATE VIRTUAL TABLE run_search USING fts5(
                    target, initiator_name, type, content='operation_runs', content_rowid='id', tokenize='trigram case_sensitive 0');
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER operation_runs_search_insert AFTER INSERT ON operation_runs
                BEGIN
                    INSERT INTO run_search(rowid, target, initiator_name, type) VALUES (new.id, new.target, new.initiator_name, new.type);
                END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER operation_runs_search_delete AFTER DELETE ON operation_runs
                BEGIN
                    INSERT INTO run_search(run_search, rowid, target, initiator_name, type) VALUES ('delete', old.id, old.target, old.initiator_name, old.type);
                END;
                """);
            // The hub never changes these columns after insert; should anything else, the index follows.
            migrationBuilder.Sql("""
                CREATE TRIGGER operation_runs_search_update AFTER UPDATE OF target, initiator_name, type ON operation_runs
                BEGIN
                    INSERT INTO run_search(run_search, rowid, target, initiator_name, type) VALUES ('delete', old.id, old.target, old.initiator_name, old.type);
                    INSERT INTO run_search(rowid, target, initiator_name, type) VALUES (new.id, new.target, new.initiator_name, new.type);
                END;
                """);
            migrationBuilder.Sql("INSERT INTO run_search(run_search) VALUES ('rebuild');");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS operation_runs_search_update;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS operation_runs_search_insert;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS operation_runs_search_delete;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS run_search;");
            migrationBuilder.Sql("""
                CREATE VIRTUAL TABLE run_search USING fts5(
                    target, content='operation_runs', content_rowid='id', tokenize='trigram case_sensitive 0');
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER operation_runs_search_insert AFTER INSERT ON operation_runs WHEN new.target IS NOT NULL
                BEGIN
                    INSERT INTO run_search(rowid, target) VALUES (new.id, new.target);
                END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER operation_runs_search_delete AFTER DELETE ON operation_runs WHEN old.target IS NOT NULL
                BEGIN
                    INSERT INTO run_search(run_search, rowid, target) VALUES ('delete', old.id, old.target);
                END;
                """);
            migrationBuilder.Sql("INSERT INTO run_search(run_search) VALUES ('rebuild');");

            migrationBuilder.DropIndex(
                name: "ix_operation_runs_tenant_duration",
                table: "operation_runs");

            migrationBuilder.DropColumn(
                name: "duration_ms",
                table: "operation_runs");
        }
    }
}
