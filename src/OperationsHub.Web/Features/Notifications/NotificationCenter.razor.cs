using Microsoft.AspNetCore.Components;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Web.Features.Live;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.Web.Features.Notifications;

public sealed partial class NotificationCenter : IDisposable
{
    private readonly CancellationTokenSource _disposed = new();
    private IDisposable? _subscription;
    private IReadOnlyList<NotificationRow>? _items;
    private int _unread;
    private int _take = NotificationQueries.PageSize;
    private bool _open;
    private long _toastedThrough;

    [Inject]
    private NotificationQueries Queries { get; set; } = default!;

    [Inject]
    private IRunChangeFeed Feed { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private CircuitConnection Connection { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [Inject]
    private ILogger<NotificationCenter> Logger { get; set; } = default!;

    /// <summary>The signed-in user; the component shows nothing of anyone else.</summary>
    [Parameter, EditorRequired]
    public long UserId { get; set; }

    private DateTime Now => Time.GetUtcNow().UtcDateTime;

    public void Dispose()
    {
        _disposed.Cancel();
        _subscription?.Dispose();
        Connection.Reconnected -= OnChangedAsync;
        _disposed.Dispose();
    }

    protected override async Task OnInitializedAsync()
    {
        _unread = await Queries.CountUnreadAsync(UserId, _disposed.Token);
        if (RendererInfo.IsInteractive)
        {
            // Only runs that end from now on toast; older ones are in the list.
            _toastedThrough = await Queries.GetLatestIdAsync(UserId, _disposed.Token);
            _subscription = Feed.Subscribe(RunChangeScope.ForUser(UserId), _ => OnChangedAsync());
            Connection.Reconnected += OnChangedAsync;
        }
    }

    private Task OnChangedAsync() => InvokeAsync(async () =>
    {
        try
        {
            _unread = await Queries.CountUnreadAsync(UserId, _disposed.Token);
            foreach (var ended in await Queries.GetCompletedAfterAsync(UserId, _toastedThrough, _disposed.Token))
            {
                _toastedThrough = Math.Max(_toastedThrough, ended.Id);
                Toast(ended);
            }

            if (_open)
            {
                await LoadAsync();
            }

            StateHasChanged();
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // The bell lives in the layout, outside any error boundary: a failed refresh must not end the circuit.
            // The next signal or reconnect tries again.
            LogRefreshFailed(Logger, ex, UserId);
        }
    });

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Refreshing notifications for user {UserId} failed")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, long userId);

    private void Toast(NotificationRow ended)
    {
        var severity = ended.Outcome switch
        {
            RunOutcome.Succeeded => Severity.Success,
            RunOutcome.PartiallySucceeded => Severity.Warning,
            RunOutcome.Failed => Severity.Error,
            _ => Severity.Info,
        };
        Snackbar.Add($"{ended.Title} · {ended.TenantName}", severity, options =>
        {
            options.Action = "View run";
            options.ActionColor = Color.Inherit;
            options.OnClick = _ =>
            {
                Navigation.NavigateTo(ended.RunLink);
                return Task.CompletedTask;
            };
            // A failure waits for the user; good news fades on its own.
            options.RequireInteraction = severity is Severity.Error or Severity.Warning;
            options.VisibleStateDuration = 6000;
            options.SnackbarVariant = Variant.Filled;
        }, key: $"run-ended-{ended.Id}");
    }

    private async Task ToggleAsync()
    {
        _open = !_open;
        if (_open)
        {
            await LoadAsync();
        }
    }

    private async Task LoadAsync() => _items = await Queries.GetNewestAsync(UserId, _take, _disposed.Token);

    private async Task ShowMoreAsync()
    {
        _take += NotificationQueries.PageSize;
        await LoadAsync();
    }

    private async Task MarkReadAsync(NotificationRow item)
    {
        await Queries.MarkReadAsync(UserId, item.Id, _disposed.Token);
        _unread = await Queries.CountUnreadAsync(UserId, _disposed.Token);
        await LoadAsync();
    }

    private async Task MarkAllReadAsync()
    {
        await Queries.MarkAllReadAsync(UserId, _disposed.Token);
        _unread = 0;
        await LoadAsync();
    }

    private async Task ViewRunAsync(NotificationRow item)
    {
        if (item.ReadAt is null)
        {
            await Queries.MarkReadAsync(UserId, item.Id, _disposed.Token);
            _unread = await Queries.CountUnreadAsync(UserId, _disposed.Token);
        }

        _open = false;
        Navigation.NavigateTo(item.RunLink);
    }

    private static string IconFor(NotificationRow item) => item.Kind == NotificationKinds.Queued
        ? Icons.Material.Outlined.Schedule
        : OperationVisuals.State(RunStatus.Completed, item.Outcome).Icon;

    private static Color ColorFor(NotificationRow item) => item.Kind == NotificationKinds.Queued
        ? Color.Default
        : OperationVisuals.State(RunStatus.Completed, item.Outcome).Color;
}
