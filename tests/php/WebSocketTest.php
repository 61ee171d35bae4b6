<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\ConfigException;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Certificates;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * The WebSocket transport (`ws://` and `wss://` URLs) against a real
 * Mosquitto's WebSocket listeners: messages both ways at each QoS, TLS with the
 * tls.* options, a broker restart, and status() naming the URL without its
 * credentials.
 *
 * @group protocol
 */
final class WebSocketTest extends MqttTestCase
{
    private const WAIT = 15.0;

    /** @var list<Broker> */
    private array $brokers = [];

    protected function tearDown(): void
    {
        parent::tearDown();
        foreach ($this->brokers as $broker) {
            $broker->stop();
        }
        $this->brokers = [];
    }

    public function testMessagesGoBothWaysAtEachQosAndSurviveABrokerRestart(): void
    {
        [$broker, $port] = $this->brokerWithWebSockets();
        $topic = $this->topic('ws');
        $listener = $this->listen("$topic/out", $broker, 2);
        $client = $this->client($this->options([
            'url' => "ws://app:secret@127.0.0.1:$port/mqtt",
        ], $broker));

        $this->assertTrue($client->waitConnected(self::WAIT), json_encode($client->status()));
        $status = $client->status();
        $this->assertSame("ws://127.0.0.1:$port/mqtt", $status['server']);
        $this->assertStringNotContainsString('secret', json_encode($status));

        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe("$topic/in", 1);
        $client->publish("$topic/out", 'qos0', 0);
        $client->publish("$topic/out", 'qos1', 1);
        $client->publishSync("$topic/out", 'qos2', 2);
        $this->assertSame(['qos0', 'qos1', 'qos2'], array_column($listener->waitFor(3), 1));

        $broker->mosquittoPub("$topic/in", 'from a TCP client', 1);
        $this->assertSame(['from a TCP client'], array_map(
            static fn ($m) => $m->payload,
            $this->collect($subscriber, 1, 'a message over WebSocket', $broker)
        ));

        $broker->restart();
        $client->publishSync("$topic/out", 'after the restart', 1, null, self::WAIT);
        $this->assertSame('after the restart', $listener->waitFor(4)[3][1]);
        $this->assertGreaterThanOrEqual(1, $client->status()['reconnects']);
    }

    public function testBurstsAndIdlePublishesArriveWholeAndInOrder(): void
    {
        // Over TCP an idle connection's publish is written on PHP's thread; over
        // WebSocket every packet goes through the connection that frames it.
        [$broker, $port] = $this->brokerWithWebSockets();
        $client = $this->client($this->options(['url' => "ws://127.0.0.1:$port"], $broker));
        $this->assertTrue($client->waitConnected(self::WAIT));

        foreach ([0, 1] as $qos) {
            // Each QoS on a topic of its own: the broker keeps the order within one QoS only.
            $topic = $this->topic("qos$qos");
            $listener = $this->listen($topic, $broker, 1);
            $sent = [];
            for ($i = 0; $i < 1000; $i++) {
                $client->publish($topic, $sent[] = "m-$i", $qos);
                if ($i % 100 === 0) {
                    usleep(20_000);
                }
            }
            $this->assertTrue($client->flush(self::WAIT), json_encode($client->status()));
            $this->assertSame($sent, array_column($listener->waitFor(1000), 1), "QoS $qos");
        }
        $this->assertSame(0, $client->status()['reconnects'], 'the broker never had to drop the connection');
    }

    public function testWssVerifiesTheBrokerWithTheTlsOptions(): void
    {
        $certs = Certificates::shared();
        $server = $certs->server();
        [$broker, $port] = $this->brokerWithWebSockets([
            "certfile {$server['cert']}",
            "keyfile {$server['key']}",
        ]);
        $topic = $this->topic('wss');
        $listener = $this->listen($topic, $broker, 1);

        $trusting = $this->client($this->options([
            'url' => "wss://localhost:$port/mqtt",
            'tls' => ['ca_file' => $certs->ca()],
        ], $broker));
        $trusting->publishSync($topic, 'over wss', 1, null, self::WAIT);
        $this->assertSame(['over wss'], array_column($listener->waitFor(1), 1));
        $this->assertSame("wss://localhost:$port/mqtt", $trusting->status()['server']);

        $untrusting = $this->client($this->options([
            'url' => "wss://localhost:$port/mqtt",
            'connect_timeout' => 2,
        ], $broker));
        $this->assertFalse($untrusting->waitConnected(3.0));
        $this->assertMatchesRegularExpression('/certificate|CA/i', (string) $untrusting->status()['last_error']);
    }

    public function testBadWebSocketUrlsThrowNamingTheOption(): void
    {
        foreach (['ws://h/mqtt#frag' => 'fragment', 'mqtt://h/mqtt' => 'only ws:// and wss://'] as $url => $rule) {
            try {
                new \Mqtt\Client(['url' => $url], 'ws-bad-' . $this->uniq());
                $this->fail("$url was accepted");
            } catch (ConfigException $e) {
                $this->assertStringContainsString('option "url"', $e->getMessage());
                $this->assertStringContainsString($rule, $e->getMessage());
            }
        }
    }

    /**
     * A Mosquitto with a WebSocket listener besides its plain one (which the
     * independent subscriber and mosquitto_pub use).
     *
     * @param list<string> $listenerLines more settings of the WebSocket listener
     * @return array{0:Broker,1:int} the broker and its WebSocket port
     */
    private function brokerWithWebSockets(array $listenerLines = []): array
    {
        $port = Broker::freePort();
        $broker = Broker::start(array_merge(["listener $port 127.0.0.1", 'protocol websockets'], $listenerLines));
        $this->brokers[] = $broker;
        return [$broker, $port];
    }
}
