using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.CancellationJobs;

/// <summary><c>/v1/cancellation-jobs</c>: bulk cancellations that run in the background (SPEC §10).</summary>
public static class CancellationJobEndpoints
{
    /// <summary>
    /// What a job that has not finished answers in <c>Retry-After</c>: ask again in a second. A job of 100,000 orders
    /// takes about ten here; each answer sums the job's tallies on the cores its batches run on, and a client polling
    /// every 100 ms asked ~110 times a job (bench/HISTORY.md).
    /// </summary>
    public const int PollAfterSeconds = 1;

    public static RouteGroupBuilder MapCancellationJobs(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/v1/cancellation-jobs", "Cancellation jobs", Callers.PartnerPolicy)
            .DescribesPath("id", "The job's id, as POST /v1/cancellation-jobs or GET /v1/cancellation-jobs answered it.");

        group.MapPost("/", Create)
            .WithName("CreateCancellationJob")
            .WithSummary("Cancel many orders in the background: by ids or by a filter, whole or one SKU's lines, or a dry run first")
            .WithDescription("Answers 202 with the queued job and its Location; follow it with GET. The orders are fixed when the "
                + "job starts (orders created later are not swept); each is cancelled in its own right, through the same rules as "
                + "POST /v1/orders/{id}/cancel, with actor job:<id>: a paid order is refused with order_already_paid and left alone. "
                + "dry_run: true changes nothing and reports what each order would get.")
            .WithRequestExamples(CancellationJobExamples.Create)
            .Reads(OperationHeaders.RetryAfter);
        group.MapGet("/", List)
            .WithName("ListCancellationJobs")
            .WithSummary("Your cancellation jobs, newest first")
            .WithDescription("Page with limit and the opaque next_cursor (null on the last page).");
        group.MapGet("/{id:guid}", Get)
            .WithName("GetCancellationJob")
            .WithSummary("A job's status, counts and amounts released")
            .WithDescription("Counts grow as batches commit: processed of matched, and each outcome; refused by the code a single "
                + "cancel would have answered. Kept as they were when the job finished. While it is queued or running, "
                + "Retry-After says when to ask again.")
            .Reads(OperationHeaders.RetryAfter)
            .Refuses("not_found");
        group.MapGet("/{id:guid}/results", ListResults)
            .WithName("ListCancellationJobResults")
            .WithSummary("One row per order the job covers, by order id")
            .WithDescription("outcome pending until a batch gets to it; then cancelled, partially_cancelled, scheduled or refused "
                + "(with the code). Filter by outcome; page with limit and next_cursor.")
            .Refuses("not_found");
        group.MapPost("/{id:guid}/stop", Stop)
            .WithName("StopCancellationJob")
            .WithSummary("Stop a job between batches; what is done stays done")
            .WithDescription("Waits for the batches in flight, then answers the job as it stopped (status stopped, its counts final) "
                + "and writes cancellation_job.stopped. A job that already finished is answered as it stands, unchanged.")
            .Refuses("not_found");
        return group;
    }

    public static async Task<Accepted<CancellationJobResponse>> Create(
        JsonBody<CreateCancellationJobRequest> body,
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        CancellationJobWorker worker,
        CancellationToken cancellation)
    {
        var now = clock.GetUtcNow();
        var request = body.Value;
        var job = new CancellationJob
        {
            Id = Guid.CreateVersion7(now),
            PartnerId = http.User.PartnerId(),
            Status = CancellationJobStatus.Queued,
            DryRun = request.DryRun ?? false,
            Request = JobRequest.From(request).Serialize(),
            OrderIds = request.OrderIds is { } ids ? [.. ids] : null,
            CreatedBy = http.User.Actor(),
            CreatedAt = now,
        };
        db.CancellationJobs.Add(job);
        await db.SaveChangesAsync(cancellation);
        AdvisePoll(http.Response, job);

        // After the answer has gone, so after the commit (which waits for the idempotency record when a key is sent).
        http.Response.OnCompleted(() =>
        {
            worker.Wake();
            return Task.CompletedTask;
        });
        return TypedResults.Accepted($"/v1/cancellation-jobs/{job.Id}", CancellationJobResponse.From(job, JobSummary.None));
    }

    public static async Task<Ok<CancellationJobPage>> List(
        [AsParameters] ListCancellationJobsQuery query, HttpContext http, OrdersDbContext db, Cursors cursors, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var jobs = db.CancellationJobs.AsNoTracking().Where(j => j.PartnerId == partnerId);
        if (query.After(cursors, partnerId) is { } after)
        {
            jobs = jobs.Where(j => j.Id.CompareTo(after) < 0);
        }

        var size = query.PageSize;
        var page = await jobs.OrderByDescending(j => j.Id).Take(size + 1).ToListAsync(cancellation);
        List<CancellationJobResponse> data = [];
        foreach (var job in page.Take(size))
        {
            data.Add(await ResponseAsync(db, job, cancellation));
        }

        return TypedResults.Ok(new CancellationJobPage(data, page.Count > size ? JobCursors.Encode(cursors, partnerId, page[size - 1].Id) : null));
    }

    public static async Task<Results<Ok<CancellationJobResponse>, ProblemHttpResult>> Get(
        Guid id, HttpContext http, OrdersDbContext db, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var job = await db.CancellationJobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == id && j.PartnerId == partnerId, cancellation);
        if (job is null)
        {
            return NotFound(id);
        }

        AdvisePoll(http.Response, job);
        return TypedResults.Ok(await ResponseAsync(db, job, cancellation));
    }

    public static async Task<Results<Ok<JobResultPage>, ProblemHttpResult>> ListResults(
        Guid id, [AsParameters] CancellationJobResultsQuery query, HttpContext http, OrdersDbContext db, Cursors cursors, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        if (!await db.CancellationJobs.AnyAsync(j => j.Id == id && j.PartnerId == partnerId, cancellation))
        {
            return NotFound(id);
        }

        var size = query.PageSize;
        var page = await db.CancellationJobResultsAsync(id, query.OutcomeFilter, query.After(cursors, partnerId, id) ?? long.MinValue, size + 1, cancellation);
        var next = page.Count > size ? JobCursors.Encode(cursors, partnerId, id, page[size - 1].OrderId) : null;
        return TypedResults.Ok(new JobResultPage([.. page.Take(size)], next));
    }

    public static async Task<Results<Ok<CancellationJobResponse>, ProblemHttpResult>> Stop(
        Guid id, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation)
    {
        await using var transaction = await RequestTransaction.BeginOrJoinAsync(db.Database, cancellation);
        var job = await db.LockCancellationJobAsync(id, http.User.PartnerId(), cancellation);
        if (job is null)
        {
            return NotFound(id);
        }

        if (job.UnderWay)
        {
            await CancellationJobRunner.FinishAsync(db, job, CancellationJobStatus.Stopped, http.User.Actor(), clock.GetUtcNow(), cancellation);
        }

        var answer = await ResponseAsync(db, job, cancellation);
        await transaction.CommitAsync(cancellation);
        return TypedResults.Ok(answer);
    }

    private static async Task<CancellationJobResponse> ResponseAsync(OrdersDbContext db, CancellationJob job, CancellationToken cancellation) =>
        CancellationJobResponse.From(job, job.Summary is { } kept ? JobSummary.Parse(kept) : await CancellationJobRunner.SummaryAsync(db, job, cancellation));

    private static void AdvisePoll(HttpResponse response, CancellationJob job)
    {
        if (job.UnderWay)
        {
            response.Headers.RetryAfter = PollAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }
    }

    private static ProblemHttpResult NotFound(Guid id) => Problems.Result("not_found", $"Cancellation job {id} not found.");
}
