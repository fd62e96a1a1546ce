using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OperationsHub.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class DirectoryCacheBackupsBindings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "directory_tenant_id",
                table: "tenants",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "backups",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: false),
                    run_id = table.Column<long>(type: "INTEGER", nullable: false),
                    taken_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    policy_count = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_backups", x => x.id);
                    table.ForeignKey(
                        name: "FK_backups_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "directory_groups",
                columns: table => new
                {
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: false),
                    object_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    display_name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    description = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: true),
                    kind = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    mail = table.Column<string>(type: "TEXT", maxLength: 320, nullable: true),
                    member_count = table.Column<int>(type: "INTEGER", nullable: true),
                    last_seen_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    deleted_at = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_directory_groups", x => new { x.tenant_id, x.object_id });
                    table.ForeignKey(
                        name: "FK_directory_groups_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "directory_sync_states",
                columns: table => new
                {
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: false),
                    delta_link = table.Column<string>(type: "TEXT", maxLength: 4096, nullable: true),
                    last_run_id = table.Column<long>(type: "INTEGER", nullable: true),
                    last_synced_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    last_full_sync_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    last_added = table.Column<int>(type: "INTEGER", nullable: false),
                    last_updated = table.Column<int>(type: "INTEGER", nullable: false),
                    last_removed = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_directory_sync_states", x => x.tenant_id);
                    table.ForeignKey(
                        name: "FK_directory_sync_states_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "group_role_bindings",
                columns: table => new
                {
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: false),
                    group_object_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    group_display_name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    role = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    created_by = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_group_role_bindings", x => new { x.tenant_id, x.group_object_id });
                    table.ForeignKey(
                        name: "FK_group_role_bindings_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "backup_assignments",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    backup_id = table.Column<long>(type: "INTEGER", nullable: false),
                    policy_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    policy_name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    source_group_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    source_group_name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_backup_assignments", x => x.id);
                    table.ForeignKey(
                        name: "FK_backup_assignments_backups_backup_id",
                        column: x => x.backup_id,
                        principalTable: "backups",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_backup_assignments_backup_id",
                table: "backup_assignments",
                column: "backup_id");

            migrationBuilder.CreateIndex(
                name: "IX_backups_run_id",
                table: "backups",
                column: "run_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_backups_tenant_taken",
                table: "backups",
                columns: new[] { "tenant_id", "taken_at" });

            migrationBuilder.CreateIndex(
                name: "ix_directory_groups_tenant_name",
                table: "directory_groups",
                columns: new[] { "tenant_id", "display_name" });

            migrationBuilder.CreateIndex(
                name: "ix_group_role_bindings_group",
                table: "group_role_bindings",
                column: "group_object_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "backup_assignments");

            migrationBuilder.DropTable(
                name: "directory_groups");

            migrationBuilder.DropTable(
                name: "directory_sync_states");

            migrationBuilder.DropTable(
                name: "group_role_bindings");

            migrationBuilder.DropTable(
                name: "backups");

            migrationBuilder.DropColumn(
                name: "directory_tenant_id",
                table: "tenants");
        }
    }
}
