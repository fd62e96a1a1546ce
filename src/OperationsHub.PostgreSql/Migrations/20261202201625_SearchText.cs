using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OperationsHub.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class SearchText : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_operation_runs_initiator_name_trgm",
                table: "operation_runs");

            migrationBuilder.DropIndex(
                name: "ix_operation_runs_target_trgm",
                table: "operation_runs");

            migrationBuilder.AddColumn<string>(
                name: "search_text",
                table: "operation_runs",
                type: "text",
                nullable: true,
                computedColumnSql: "lower(coalesce(target, '') || E'\\n' || coalesce(initiator_name, ''))",
                stored: true);

            migrationBuilder.CreateIndex(
                name: "ix_operation_runs_search_text_trgm",
                table: "operation_runs",
                column: "search_text")
                .Annotation("Npgsql:IndexMethod", "gin")
                .Annotation("Npgsql:IndexOperators", new[] { "gin_trgm_ops" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_operation_runs_search_text_trgm",
                table: "operation_runs");

            migrationBuilder.DropColumn(
                name: "search_text",
                table: "operation_runs");

            migrationBuilder.CreateIndex(
                name: "ix_operation_runs_initiator_name_trgm",
                table: "operation_runs",
                column: "initiator_name")
                .Annotation("Npgsql:IndexMethod", "gin")
                .Annotation("Npgsql:IndexOperators", new[] { "gin_trgm_ops" });

            migrationBuilder.CreateIndex(
                name: "ix_operation_runs_target_trgm",
                table: "operation_runs",
                column: "target")
                .Annotation("Npgsql:IndexMethod", "gin")
                .Annotation("Npgsql:IndexOperators", new[] { "gin_trgm_ops" });
        }
    }
}
