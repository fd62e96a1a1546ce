using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Samples;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using OperationsHub.Web;
using OperationsHub.Web.Components;
using OperationsHub.Web.Features.Api;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Features.Demo;
using OperationsHub.Web.Features.Directory;
using OperationsHub.Web.Features.Health;
using OperationsHub.Web.Features.Security;
using OperationsHub.Web.Features.Telemetry;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddOperationsHub(builder.Configuration, storage => storage.AddSqlite().AddPostgreSql());
builder.Services.AddHubDirectory(builder.Configuration);
builder.Services.AddSampleOperations();
builder.Services.AddHubAuthentication(builder.Configuration);
builder.Services.AddHubDataProtection();
builder.Services.AddHubWeb();
builder.Services.AddDemo(builder.Configuration);
builder.Services.AddHubHealthChecks();
builder.Services.AddHubTelemetry(builder.Configuration);

var app = builder.Build();

if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DatabaseOptions>>().Value.MigrateOnStartup)
{
    await app.Services.MigrateHubDatabaseAsync();
}
await app.Services.SeedDemoAsync();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error", createScopeForErrors: true);
    app.UseHsts();
}

app.UseSecurityHeaders();
app.UseTransientFailureAnswers();
app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
app.UseApiStatusCodes();
app.UseBrandAssets();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapStaticAssets();
app.MapHubHealthChecks();
OperationsHub.Web.Components.Layout.ThemeStylesheet.Map(app);
app.MapAccountEndpoints();
app.MapRunsApi();
app.MapOpenApi(); // ApiDocument.Path
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();
