using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OperationsHub.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class RunTraceContext : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "trace_parent",
                table: "operation_runs",
                type: "TEXT",
                maxLength: 55,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "trace_parent",
                table: "operation_runs");
        }
    }
}
