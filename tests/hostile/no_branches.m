function mpc = hostile
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	230	1	1.1	0.9;
	2	1	100	0	0	0	1	1	0	230	1	1.1	0.9;
	3	1	50	0	0	0	1	1	0	230	1	1.1	0.9;
];
mpc.gen = [
	1	150	0	0	0	1	100	1	300	0	0	0	0	0	0	0	0	0	0	0	0;
];
mpc.branch = [
  % nothing here
];
