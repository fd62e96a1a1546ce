using Microsoft.AspNetCore.Components;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Storage;
using OperationsHub.Web.Features.Live;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.Web.Features.Notifications;

public sealed partial class NotificationCenter
{
    private IReadOnlyList<NotificationRow>? _items;
    private int _unread;
    private int _take = NotificationQueries.PageSize;
    private bool _open;
    // What this tab has toasted (or found already ended when it opened), by creation time, within a window that
    // slides with each read: ids are not a clock, so "new" is "created in the window and not seen", never "above X".
    private readonly Dictionary<long, DateTime> _seen = [];
    private DateTime _lastRead;

    [Inject]
    private NotificationQueries Queries { get; set; } = default!;

    [Inject]
    private Auth.RevalidatingSessionStateProvider Sessions { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [Inject]
    private ILogger<NotificationCenter> Logger { get; set; } = default!;

    /// <summary>The signed-in user; the component shows nothing of anyone else.</summary>
    [Parameter, EditorRequired]
    public long UserId { get; set; }

    private DateTime Now => Time.GetUtcNow().UtcDateTime;

    protected override async Task OnInitializedAsync()
    {
        _unread = await Queries.CountUnreadAsync(UserId, Disposing);
        if (RendererInfo.IsInteractive)
        {
            // Only runs that end from now on toast; older ones are in the list. What already ended within the window
            // is marked seen, so the first read after a change toasts only what is really new.
            _lastRead = Now;
            await ReadEndedAsync(toast: false);
        }

        // User-scoped: this tab hears about its own user's runs only.
        Watch(RunChangeScope.ForUser(UserId), _ => OnChangedAsync(), progress: false);
    }

    private async Task OnChangedAsync()
    {
        _unread = await Queries.CountUnreadAsync(UserId, Disposing);
        await ReadEndedAsync(toast: true);

        if (_open)
        {
            await LoadAsync();
        }
    }

    private async Task ReadEndedAsync(bool toast)
    {
        var readAt = Now;
        var since = _lastRead - CommitOrder.Slack;
        foreach (var old in _seen.Where(s => s.Value < since).Select(s => s.Key).ToList())
        {
            _seen.Remove(old);
        }

        IReadOnlyList<NotificationRow> ended;
        do
        {
            ended = await Queries.GetCompletedSinceAsync(UserId, since, _seen.Keys, Disposing);
            foreach (var row in ended)
            {
                _seen[row.Id] = row.CreatedAt;
                if (toast)
                {
                    Toast(row);
                }
            }
        }
        while (!toast && ended.Count == NotificationQueries.MaxToastsPerRead);

        _lastRead = readAt;
    }

    /// <summary>The bell lives in the layout, outside any error boundary: a failed refresh must not end the circuit.</summary>
    protected override Task OnRefreshFailedAsync(Exception exception)
    {
        LogRefreshFailed(Logger, exception, UserId);
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Refreshing notifications for user {UserId} failed")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, long userId);

    /// <summary>Run toasts shown at once; past this, one "N more runs finished" toast stands for the rest.</summary>
    internal const int MaxRunToasts = 3;

    private const string RunToastPrefix = "run-ended-";
    private const string OverflowKey = "runs-ended-more";
    private readonly List<Snackbar> _runToasts = [];
    private Snackbar? _overflowToast;
    private int _overflow;

    private void Toast(NotificationRow ended)
    {
        var severity = ended.Outcome switch
        {
            RunOutcome.Succeeded => Severity.Success,
            RunOutcome.PartiallySucceeded => Severity.Warning,
            RunOutcome.Failed => Severity.Error,
            _ => Severity.Info,
        };
        var shown = Snackbar.ShownSnackbars.ToHashSet();
        _runToasts.RemoveAll(t => !shown.Contains(t));
        if (_overflowToast is not null && !shown.Contains(_overflowToast))
        {
            (_overflowToast, _overflow) = (null, 0);
        }

        if (_runToasts.Count >= MaxRunToasts)
        {
            _overflow++;
            ShowOverflow();
            return;
        }

        // The run's number, what it worked on and where; "View run" is a real link (new tab, copy address).
        var toast = Snackbar.Add(RunToast.Markup(ended.Title, ended.RunId, ended.RunLink, ended.Target, ended.TenantName), severity, options =>
        {
            // A failure waits for the user; good news fades on its own.
            options.RequireInteraction = severity is Severity.Error or Severity.Warning;
            options.VisibleStateDuration = 6000;
            options.SnackbarVariant = Variant.Filled;
        }, key: RunToastPrefix + ended.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (toast is not null)
        {
            _runToasts.Add(toast);
        }
    }

    private void ShowOverflow()
    {
        if (_overflowToast is not null)
        {
            Snackbar.Remove(_overflowToast);
        }

        _overflowToast = Snackbar.Add<ToastOverflow>(new Dictionary<string, object>
        {
            [nameof(ToastOverflow.Count)] = _overflow,
            [nameof(ToastOverflow.OnShow)] = EventCallback.Factory.Create(this, ShowAllAsync),
            [nameof(ToastOverflow.OnDismissAll)] = EventCallback.Factory.Create(this, DismissAll),
        }, Severity.Normal, options =>
        {
            options.RequireInteraction = true;
            options.SnackbarVariant = Variant.Filled;
        }, key: OverflowKey);
    }

    /// <summary>Every run toast goes; the bell, which holds them all, opens.</summary>
    private async Task ShowAllAsync()
    {
        DismissAll();
        _open = true;
        await LoadAsync();
    }

    private void DismissAll()
    {
        foreach (var toast in _runToasts.Append(_overflowToast).OfType<Snackbar>().ToList())
        {
            Snackbar.Remove(toast);
        }

        _runToasts.Clear();
        (_overflowToast, _overflow) = (null, 0);
    }

    private async Task ToggleAsync()
    {
        _open = !_open;
        if (_open)
        {
            await LoadAsync();
        }
    }

    private void OnPanelKeyDown(Microsoft.AspNetCore.Components.Web.KeyboardEventArgs e)
    {
        if (e.Key == "Escape")
        {
            _open = false;
        }
    }

    private async Task LoadAsync() => _items = await Queries.GetNewestAsync(UserId, _take, Disposing);

    private async Task ShowMoreAsync()
    {
        _take += NotificationQueries.PageSize;
        await LoadAsync();
    }

    private async Task MarkReadAsync(NotificationRow item)
    {
        if (!await Sessions.EnsureLiveAsync(Disposing))
        {
            return;
        }

        await Queries.MarkReadAsync(UserId, item.Id, Disposing);
        _unread = await Queries.CountUnreadAsync(UserId, Disposing);
        await LoadAsync();
    }

    private async Task MarkAllReadAsync()
    {
        if (!await Sessions.EnsureLiveAsync(Disposing))
        {
            return;
        }

        await Queries.MarkAllReadAsync(UserId, Disposing);
        _unread = 0;
        await LoadAsync();
    }

    /// <summary>The entry's link is followed by the browser (or opened in a new tab); this marks it read.</summary>
    private async Task ViewedAsync(NotificationRow item)
    {
        if (item.ReadAt is null && await Sessions.EnsureLiveAsync(Disposing))
        {
            await Queries.MarkReadAsync(UserId, item.Id, Disposing);
            _unread = await Queries.CountUnreadAsync(UserId, Disposing);
        }

        _open = false;
    }

    private static string IconFor(NotificationRow item) => item.Kind == NotificationKinds.Queued
        ? Icons.Material.Outlined.Schedule
        : OperationVisuals.State(RunStatus.Completed, item.Outcome).Icon;

    private static Color ColorFor(NotificationRow item) => item.Kind == NotificationKinds.Queued
        ? Color.Default
        : OperationVisuals.State(RunStatus.Completed, item.Outcome).Color;
}
