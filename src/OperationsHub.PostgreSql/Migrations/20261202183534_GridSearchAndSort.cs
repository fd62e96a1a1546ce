using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OperationsHub.PostgreSql.Migrations
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
                type: "bigint",
                nullable: false,
                computedColumnSql: "COALESCE(CAST(round(EXTRACT(EPOCH FROM completed_at - started_at) * 1000) AS bigint), 0)",
                stored: true);

            migrationBuilder.CreateIndex(
                name: "ix_operation_runs_initiator_name_trgm",
                table: "operation_runs",
                column: "initiator_name")
                .Annotation("Npgsql:IndexMethod", "gin")
                .Annotation("Npgsql:IndexOperators", new[] { "gin_trgm_ops" });

            migrationBuilder.CreateIndex(
                name: "ix_operation_runs_tenant_duration",
                table: "operation_runs",
                columns: new[] { "tenant_id", "duration_ms", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_operation_runs_initiator_name_trgm",
                table: "operation_runs");

            migrationBuilder.DropIndex(
                name: "ix_operation_runs_tenant_duration",
                table: "operation_runs");

            migrationBuilder.DropColumn(
                name: "duration_ms",
                table: "operation_runs");
        }
    }
}
