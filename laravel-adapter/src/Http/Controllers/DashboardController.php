<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Http\Controllers;

use Illuminate\Contracts\View\Factory as ViewFactory;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use MqttBroadcast\Laravel\Http\DashboardStats;
use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * The dashboard at /{path}: a page that renders the JSON of stats() and asks
 * for it again every few seconds, and the retry of a failed publish.
 */
class DashboardController
{
    /** Seconds between two refreshes of the page's figures. */
    public const REFRESH_SECONDS = 3;

    public function show(Request $request, DashboardStats $stats, ViewFactory $views): Response
    {
        // Its API is below it, on the same host: the routes of web.php.
        $base = rtrim($request->url(), '/');
        return new Response($views->make('mqtt-broadcast::dashboard', [
            'stats' => $stats->collect(),
            'statsUrl' => "$base/api/stats",
            'retryUrl' => "$base/api/failed-jobs/__ID__/retry",
            'csrfToken' => $request->hasSession() ? $request->session()->token() : null,
            'refreshSeconds' => self::REFRESH_SECONDS,
        ])->render());
    }

    public function stats(DashboardStats $stats): JsonResponse
    {
        return new JsonResponse($stats->collect(), 200, [], JSON_INVALID_UTF8_SUBSTITUTE);
    }

    /**
     * Publishes a failed publish again, as `mqtt-broadcast:retry` does: the
     * record is forgotten once the broker has the message, and stays with
     * its new exception when it fails again. The CSRF token of the session
     * is checked here too, so that the action stays protected under a
     * middleware list without the web group's VerifyCsrfToken.
     */
    public function retry(Request $request, string $id, MqttBroadcast $mqtt): JsonResponse
    {
        if (!$request->hasSession()) {
            return new JsonResponse(['message' => 'Retrying needs a session for its CSRF token: put the "web" middleware group in mqtt-broadcast.middleware.'], 419);
        }
        $token = $request->header('X-CSRF-TOKEN') ?? $request->input('_token');
        if (!is_string($token) || !hash_equals((string) $request->session()->token(), $token)) {
            return new JsonResponse(['message' => 'CSRF token mismatch: the X-CSRF-TOKEN header (or _token field) must be the session\'s token. Reload the dashboard.'], 419);
        }
        $job = FailedMqttJob::query()->where('external_id', $id)->first();
        if ($job === null) {
            return new JsonResponse(['message' => "No failed publish with ID \"$id\"."], 404);
        }
        try {
            $job->retry($mqtt);
        } catch (\Throwable $e) {
            return new JsonResponse(['message' => "Publishing $id again failed, it stays in the store: " . $e->getMessage()], 502);
        }
        return new JsonResponse(['message' => "Published $id again ({$job->topic} on connection {$job->broker})."]);
    }
}
