using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Demo;
using OperationsHub.Web.Features.Status;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddOperationsHub(builder.Configuration);
builder.Services.AddSampleOperations();
builder.Services.AddDemo(builder.Configuration);

var app = builder.Build();

await app.Services.MigrateHubDatabaseAsync();
await app.Services.SeedDemoAsync();

app.MapStatusEndpoints();

app.Run();
