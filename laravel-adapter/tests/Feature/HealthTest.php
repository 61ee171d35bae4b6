<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Contracts\Http\Kernel;
use Illuminate\Foundation\Application;
use Illuminate\Http\Request;
use MqttBroadcast\Laravel\Tests\TestCase;
use Symfony\Component\HttpFoundation\Response;

/**
 * The health endpoint of the pure-PHP package, at its path and behind its
 * middleware setting (tests/app's config names that package's Authorize
 * class, as its config file does), answered from the daemons' heartbeats.
 */
final class HealthTest extends TestCase
{
    public function test_healthy_while_a_daemon_runs_with_its_connections_connected(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'local']);

        $none = $this->get($app, '/mqtt-broadcast/api/health');
        self::assertSame(503, $none->getStatusCode(), (string) $none->getContent());
        self::assertSame(['unhealthy', 'fail'], [$this->json($none)['status'], $this->json($none)['checks']['daemon_running']['status']]);

        $daemon = $this->startDaemon();
        $running = $this->getUntil($app, 200);
        self::assertSame(200, $running->getStatusCode(), (string) $running->getContent());
        self::assertSame('healthy', $this->json($running)['status']);
        self::assertSame([['connection' => 'default', 'state' => 'connected']], array_map(
            static fn (array $c) => ['connection' => $c['connection'], 'state' => $c['state']],
            $this->json($running)['data']['connections']
        ));

        $daemon->signal(SIGUSR2);
        $paused = $this->getUntil($app, 503);
        self::assertSame('fail', $this->json($paused)['checks']['not_paused']['status']);
    }

    public function test_outside_the_local_environment_it_takes_the_view_gate(): void
    {
        // The test application defines no gate (it has no auth at all): no one passes.
        $app = $this->bootApp(['APP_ENV' => 'production']);

        $response = $this->get($app, '/mqtt-broadcast/api/health');
        self::assertSame(403, $response->getStatusCode(), (string) $response->getContent());
    }

    public function test_the_path_setting_moves_it(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'local', 'MQTT_BROADCAST_PATH' => 'ops/mqtt']);

        self::assertSame(503, $this->get($app, '/ops/mqtt/api/health')->getStatusCode());
        $old = $this->get($app, '/mqtt-broadcast/api/health');
        self::assertSame(404, $old->getStatusCode(), (string) $old->getContent());
        $routes = $app['router']->getRoutes();
        $routes->refreshNameLookups();
        self::assertSame('ops/mqtt/api/health', $routes->getByName('mqtt-broadcast.health')->uri());
    }

    /** The health endpoint's answer once it has $status (the daemon's heartbeat comes every second), failing after 5 s. */
    private function getUntil(Application $app, int $status): Response
    {
        $deadline = microtime(true) + 5.0;
        while (($response = $this->get($app, '/mqtt-broadcast/api/health'))->getStatusCode() !== $status) {
            self::assertLessThan($deadline, microtime(true), (string) $response->getContent());
            usleep(100_000);
        }
        return $response;
    }

    private function get(Application $app, string $uri): Response
    {
        return $app->make(Kernel::class)->handle(Request::create($uri));
    }

    /** @return array<string, mixed> */
    private function json(Response $response): array
    {
        return json_decode((string) $response->getContent(), true, flags: JSON_THROW_ON_ERROR);
    }
}
