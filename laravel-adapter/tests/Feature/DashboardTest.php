<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Auth\Access\Gate;
use Illuminate\Contracts\Auth\Access\Gate as GateContract;
use Illuminate\Contracts\Http\Kernel;
use Illuminate\Foundation\Application;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Artisan;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\Tests\TestCase;
use Symfony\Component\HttpFoundation\Response;

/**
 * The dashboard at /mqtt-broadcast and its JSON API, on the test application
 * with a real daemon: what the page is built from, the gate, and the retry
 * of a failed publish through the web group's session and CSRF token.
 */
final class DashboardTest extends TestCase
{
    public function test_the_json_api_shows_the_daemon_its_connection_and_what_it_received(): void
    {
        $prefix = $this->topic('dash') . '/';
        $app = $this->bootApp(['APP_ENV' => 'local', 'MQTT_PREFIX' => $prefix]);
        $daemon = $this->startDaemon(['MQTT_PREFIX' => $prefix]);
        $daemon->awaitSubscription(static::broker(), 'probe', $prefix);
        for ($i = 0; $i < 5; $i++) {
            static::broker()->mosquittoPub("{$prefix}sensors/$i", "reading $i");
        }
        static::broker()->mosquittoPub("{$prefix}metrics/not-a-uuid/a-1/cpu", '{"value": 1}');
        $daemon->waitForMessages("{$prefix}sensors/", 5);
        MqttBroadcast::publish('from-the-web', 'x');
        self::assertTrue(MqttBroadcast::connection()->flush(5.0));

        $stats = $this->statsUntil($app, static fn (array $s) => ($s['daemons'][0]['connections']['default']['received'] ?? 0) >= 7);

        $running = $stats['daemons'][0];
        self::assertSame([gethostname(), $daemon->pid(), 'running', 128], [$running['host'], $running['pid'], $running['status'], $running['memory_threshold_mb']]);
        self::assertGreaterThan(0, $running['memory_mb']);
        $connection = $running['connections']['default'];
        self::assertSame('connected', $connection['state']);
        self::assertEqualsWithDelta(microtime(true), $connection['connected_since'], 30.0);
        self::assertNull($connection['last_error']);
        self::assertGreaterThanOrEqual(7, $stats['throughput']['received_last_hour'], 'the probes, the readings and the rejected metric');
        self::assertCount(60, $stats['throughput']['minutes']);
        self::assertContains(['connection' => 'default', 'filter' => "$prefix#", 'received' => $connection['received']], $stats['received']['topics']);
        $routes = array_column($stats['received']['routes'], null, 'pattern');
        self::assertSame([false, 1, 1], [$routes['metrics/{tenant}/{agent}/{metric}']['fallback'], $routes['metrics/{tenant}/{agent}/{metric}']['received'], $routes['metrics/{tenant}/{agent}/{metric}']['rejected']], 'a tenant that is no UUID');
        self::assertSame([true, 0, 0], [$routes['metrics/#']['fallback'], $routes['metrics/#']['received'], $routes['metrics/#']['rejected']]);
        self::assertGreaterThanOrEqual(1, $stats['pool']['connections']['default']['published'], "this process's publish, from the extension's counters");
        self::assertSame(['queued' => 0, 'in_flight' => 0], $stats['outbox']);
        self::assertNull($stats['failed']['total'], 'no database yet');
        self::assertStringStartsWith('The failed-publish store cannot be read (has `php artisan migrate` run?)', $stats['failed']['error']);
        self::assertSame(['enabled' => false, 'latest' => [], 'error' => null], $stats['messages'], 'the message log is off');
        self::assertSame('mqtt', $stats['queues'][0]['name'], 'the mqtt queue connection of the test application');
        if (method_exists($app->make('queue.failer'), 'count')) {
            self::assertStringStartsWith('The failed jobs cannot be counted (has `php artisan migrate` run?)', (string) $stats['queues'][0]['error'], 'Laravel 10 and later count them in the database');
        } else {
            self::assertNull($stats['queues'][0]['error']);
        }

        $page = $this->request($app, 'GET', '/mqtt-broadcast');
        self::assertSame(200, $page->getStatusCode(), (string) $page->getContent());
        self::assertStringContainsString('<title>MQTT Broadcast</title>', (string) $page->getContent());
        self::assertStringContainsString(json_encode($running['name']), (string) $page->getContent(), 'the figures the page renders first');

        $health = json_decode((string) $this->request($app, 'GET', '/mqtt-broadcast/api/health')->getContent(), true);
        self::assertSame([$running['name'], $daemon->pid()], [$health['data']['daemons']['alive'][0]['name'], $health['data']['daemons']['alive'][0]['pid']]);
        self::assertLessThan(5, $health['data']['daemons']['alive'][0]['heartbeat_seconds_ago']);
        self::assertNull($health['data']['connections'][0]['last_error']);
        self::assertNotNull($health['data']['connections'][0]['connected_since']);
    }

    public function test_outside_the_local_environment_it_takes_the_view_gate(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'production']);

        // The test application defines no gate: no one passes.
        $page = $this->request($app, 'GET', '/mqtt-broadcast');
        self::assertSame(403, $page->getStatusCode());
        self::assertSame(403, $this->request($app, 'GET', '/mqtt-broadcast/api/stats')->getStatusCode());
        $cookies = [];
        foreach ($page->headers->getCookies() as $cookie) {
            $cookies[$cookie->getName()] = $cookie->getValue();
        }
        $token = $app->make('session')->driver()->token();
        self::assertSame(403, $this->request($app, 'POST', '/mqtt-broadcast/api/failed-jobs/x/retry', $cookies, ['HTTP_X_CSRF_TOKEN' => $token])->getStatusCode(), 'a retry with the session\'s token');

        $app->singleton(GateContract::class, static fn (Application $app) => new Gate($app, static fn () => null));
        $app->make(GateContract::class)->define('viewMqttBroadcast', static fn ($user = null) => true);
        $response = $this->request($app, 'GET', '/mqtt-broadcast/api/stats');
        self::assertSame(200, $response->getStatusCode(), (string) $response->getContent());
        self::assertSame('production', json_decode((string) $response->getContent(), true)['environment']);
    }

    public function test_retry_publishes_a_failed_publish_again_with_the_sessions_csrf_token(): void
    {
        touch("{$this->appDir}/database/database.sqlite");
        $app = $this->bootApp(['APP_ENV' => 'local']);
        Artisan::call('migrate', ['--force' => true]);
        $topic = $this->topic('retry');
        $listener = $this->listen($topic);
        $row = FailedMqttJob::query()->create(['broker' => 'default', 'topic' => $topic, 'message' => 'again', 'exception' => "Mqtt\\TimeoutException: not acknowledged\n#0 ...", 'failed_at' => now()]);
        $retry = "/mqtt-broadcast/api/failed-jobs/{$row->external_id}/retry";

        $page = $this->request($app, 'GET', '/mqtt-broadcast');
        self::assertSame(200, $page->getStatusCode(), (string) $page->getContent());
        $cookies = [];
        foreach ($page->headers->getCookies() as $cookie) {
            $cookies[$cookie->getName()] = $cookie->getValue();
        }
        self::assertSame(1, preg_match('~<script id="mqtt-broadcast-config" type="application/json">(.*?)</script>~', (string) $page->getContent(), $config));
        $token = json_decode($config[1], true)['csrfToken'];
        self::assertIsString($token);
        $stats = json_decode((string) $this->request($app, 'GET', '/mqtt-broadcast/api/stats', $cookies)->getContent(), true);
        self::assertSame(1, $stats['failed']['total']);
        self::assertSame([$row->external_id, $topic, 'Mqtt\TimeoutException: not acknowledged'], [$stats['failed']['jobs'][0]['id'], $stats['failed']['jobs'][0]['topic'], $stats['failed']['jobs'][0]['exception']]);

        self::assertSame(419, $this->request($app, 'POST', $retry, $cookies)->getStatusCode(), 'no token');
        self::assertSame(419, $this->request($app, 'POST', $retry, $cookies, ['HTTP_X_CSRF_TOKEN' => 'forged'])->getStatusCode(), 'a wrong token');
        self::assertSame(1, FailedMqttJob::query()->count());

        $published = $this->request($app, 'POST', $retry, $cookies, ['HTTP_X_CSRF_TOKEN' => $token, 'HTTP_ACCEPT' => 'application/json']);
        self::assertSame(200, $published->getStatusCode(), (string) $published->getContent());
        self::assertSame("Published {$row->external_id} again ($topic on connection default).", json_decode((string) $published->getContent(), true)['message']);
        self::assertSame([[$topic, 'again']], $listener->waitFor(1));
        self::assertSame(0, FailedMqttJob::query()->count(), 'what went out is forgotten, as mqtt-broadcast:retry does');

        $gone = $this->request($app, 'POST', $retry, $cookies, ['HTTP_X_CSRF_TOKEN' => $token, 'HTTP_ACCEPT' => 'application/json']);
        self::assertSame(404, $gone->getStatusCode());
        self::assertSame("No failed publish with ID \"{$row->external_id}\".", json_decode((string) $gone->getContent(), true)['message']);
    }

    public function test_the_path_setting_moves_the_dashboard(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'local', 'MQTT_BROADCAST_PATH' => 'ops/mqtt']);

        self::assertSame(200, $this->request($app, 'GET', '/ops/mqtt')->getStatusCode());
        self::assertSame(200, $this->request($app, 'GET', '/ops/mqtt/api/stats')->getStatusCode());
        self::assertSame(404, $this->request($app, 'GET', '/mqtt-broadcast')->getStatusCode());
    }

    public function test_the_domain_setting_puts_it_on_one_host(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'local', 'MQTT_BROADCAST_DOMAIN' => 'ops.example.test']);

        self::assertSame(200, $this->request($app, 'GET', 'http://ops.example.test/mqtt-broadcast')->getStatusCode());
        $stats = $this->request($app, 'GET', 'http://ops.example.test/mqtt-broadcast/api/stats');
        self::assertSame(200, $stats->getStatusCode());
        self::assertSame(404, $this->request($app, 'GET', 'http://www.example.test/mqtt-broadcast')->getStatusCode());
    }

    /**
     * The JSON API's answer once $ready accepts it (the daemon's heartbeat comes every second), failing after 10 s.
     *
     * @param \Closure(array<string, mixed>): bool $ready
     * @return array<string, mixed>
     */
    private function statsUntil(Application $app, \Closure $ready): array
    {
        $deadline = microtime(true) + 10.0;
        while (true) {
            $response = $this->request($app, 'GET', '/mqtt-broadcast/api/stats');
            self::assertSame(200, $response->getStatusCode(), (string) $response->getContent());
            $stats = json_decode((string) $response->getContent(), true, flags: JSON_THROW_ON_ERROR);
            if ($ready($stats)) {
                return $stats;
            }
            self::assertLessThan($deadline, microtime(true), json_encode($stats, JSON_PRETTY_PRINT));
            usleep(100_000);
        }
    }

    /**
     * @param array<string, string> $cookies
     * @param array<string, string> $server
     */
    private function request(Application $app, string $method, string $uri, array $cookies = [], array $server = []): Response
    {
        return $app->make(Kernel::class)->handle(Request::create($uri, $method, [], $cookies, [], $server));
    }
}
