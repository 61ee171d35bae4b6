<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

use Mqtt\Client;
use Mqtt\Message;
use Mqtt\MqttException;
use Mqtt\Subscriber;
use PHPUnit\Framework\TestCase;

/**
 * Base of the extension's tests: one broker per test class (tests that need an
 * outage start their own), unique topics and client ids per test, and every
 * client a test made closed afterwards so no connection outlives its test.
 */
abstract class MqttTestCase extends TestCase
{
    private static ?Broker $sharedBroker = null;

    /** @var list<Client> */
    private array $clients = [];
    /** @var list<Listener> */
    private array $listeners = [];
    /** @var list<Broker> brokers of one test, stopped after it */
    private array $ownBrokers = [];
    private ?string $uniq = null;

    public static function tearDownAfterClass(): void
    {
        self::$sharedBroker?->stop();
        self::$sharedBroker = null;
    }

    protected function tearDown(): void
    {
        foreach ($this->clients as $client) {
            try {
                $client->close();
            } catch (MqttException) {
                // Already closed, or its broker is gone: nothing left to release.
            }
        }
        foreach ($this->listeners as $listener) {
            $listener->stop();
        }
        foreach ($this->ownBrokers as $broker) {
            $broker->stop();
        }
        $this->clients = [];
        $this->listeners = [];
        $this->ownBrokers = [];
    }

    /** A broker of this test alone (not the class's shared one), stopped after it. */
    protected function ownBroker(): Broker
    {
        return $this->ownBrokers[] = Broker::start();
    }

    /** The broker shared by the tests of this class. */
    protected static function broker(): Broker
    {
        if (self::$sharedBroker === null || !self::$sharedBroker->isRunning()) {
            self::$sharedBroker = Broker::start();
        }
        return self::$sharedBroker;
    }

    /** A string unique to this test run, for topics, names and client ids. */
    protected function uniq(): string
    {
        return $this->uniq ??= preg_replace('/[^A-Za-z0-9]+/', '-', (new \ReflectionClass($this))->getShortName() . '-' . $this->getName(false))
            . '-' . bin2hex(random_bytes(3));
    }

    /** A topic unique to this test: "test/<class-test-random>/<suffix>". */
    protected function topic(string $suffix): string
    {
        return 'test/' . $this->uniq() . '/' . $suffix;
    }

    /**
     * Options for a client of $broker (default: the shared one), reconnecting quickly; $overrides win.
     * Overrides with `servers` or `url` name the servers instead of the broker's host and port.
     * MQTT_BROADCAST_TEST_PROTOCOL=5 runs the tests over MQTT 5 (./build.sh test does, for the group "protocol").
     */
    protected function options(array $overrides = [], ?Broker $broker = null): array
    {
        $broker ??= static::broker();
        $protocol = getenv('MQTT_BROADCAST_TEST_PROTOCOL');
        $address = isset($overrides['servers']) || isset($overrides['url'])
            ? []
            : ['host' => $broker->host(), 'port' => $broker->port()];
        return array_replace($address, [
            'client_id' => 'php-' . $this->uniq() . '-' . bin2hex(random_bytes(2)),
            'flush_timeout' => 10,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 1.0, 'max_retries' => 0],
        ], $protocol ? ['protocol' => $protocol] : [], $overrides);
    }

    /** A client closed at the end of the test; the name is unique unless given. */
    protected function client(array $options, ?string $name = null): Client
    {
        $client = new Client($options, $name ?? 'conn-' . $this->uniq() . '-' . count($this->clients));
        $this->clients[] = $client;
        return $client;
    }

    /** An independent subscriber, stopped at the end of the test. */
    protected function listen(string $filter, ?Broker $broker = null, int $qos = 1): Listener
    {
        $listener = Listener::start($broker ?? static::broker(), $filter, $qos);
        $this->listeners[] = $listener;
        return $listener;
    }

    /** @return list<Message> exactly $count messages from $subscriber, failing after a generous bound */
    protected function collect(Subscriber $subscriber, int $count, string $what, ?Broker $broker = null): array
    {
        $messages = [];
        $deadline = microtime(true) + 20;
        while (count($messages) < $count) {
            $message = $subscriber->next(0.5);
            if ($message !== null) {
                $messages[] = $message;
            } elseif (microtime(true) >= $deadline) {
                $this->fail(sprintf(
                    "%s: %d of %d messages arrived: %s\nbroker log:\n%s",
                    $what,
                    count($messages),
                    $count,
                    json_encode(array_map(fn (Message $m) => [$m->topic, $m->payload], $messages)),
                    Failure::tail(($broker ?? static::broker())->log(), 30)
                ));
            }
        }
        return $messages;
    }

    /** Asserts the two lists hold the same strings the same number of times, in any order. */
    protected static function assertSameMultiset(array $expected, array $actual, string $message = ''): void
    {
        sort($expected, SORT_STRING);
        sort($actual, SORT_STRING);
        self::assertSame($expected, $actual, $message);
    }
}
