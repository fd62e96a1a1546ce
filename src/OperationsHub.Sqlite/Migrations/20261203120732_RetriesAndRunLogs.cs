using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OperationsHub.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class RetriesAndRunLogs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "retry_of_run_id",
                table: "operation_runs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "run_log_lines",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    run_id = table.Column<long>(type: "INTEGER", nullable: false),
                    at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    level = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    message = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_log_lines", x => x.id);
                    table.ForeignKey(
                        name: "FK_run_log_lines_operation_runs_run_id",
                        column: x => x.run_id,
                        principalTable: "operation_runs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_operation_runs_retry_of",
                table: "operation_runs",
                column: "retry_of_run_id",
                filter: "retry_of_run_id IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_run_log_lines_run",
                table: "run_log_lines",
                columns: new[] { "run_id", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "run_log_lines");

            migrationBuilder.DropIndex(
                name: "ix_operation_runs_retry_of",
                table: "operation_runs");

            migrationBuilder.DropColumn(
                name: "retry_of_run_id",
                table: "operation_runs");
        }
    }
}
